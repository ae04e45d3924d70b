"""The console dashboard's history in headless Chromium against the real gateway (`ai-bot run`):
after traffic (answers, one failure, one 👍) the charts are full on the page's first render, drawn
from the data the page carries, with every refresh blocked; the range switch and the JSON
endpoint read the same store; the page reads in Chinese for a zh-CN browser. `open_page` fails
the test on any script error or CSP violation, so uPlot must run under the console's CSP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from playwright.async_api import expect

from tests.fakes.openai_server import Fail, FakeOpenAI
from tests.support.admin_http import create_user, login
from tests.support.browser import PHONE, OpenPage
from tests.support.gateway import GatewayFactory, RunningGateway

CHARTS = ("chart-messages", "chart-errors", "chart-latency", "chart-tokens", "chart-thumbs")


async def logged_rows(page: Any, gw: RunningGateway, expected: int) -> dict[str, Any]:
    """The series endpoint (with the page's session), once the message log holds `expected`
    messages: its rows are committed beside the next writes, not before the answer."""
    for _ in range(200):
        response = await page.request.get(f"{gw.url}/admin/api/series?range=1h")
        assert response.status == 200
        data: dict[str, Any] = await response.json()
        if sum(sum(values) for values in data["messages"].values()) >= expected:
            return data
        await asyncio.sleep(0.1)
    raise AssertionError(f"the message log never reached {expected} messages: {data}")


async def rate_an_answer_on_the_web_page(gw: RunningGateway) -> None:
    """One message through the chat page's WebSocket, its answer rated 👍."""
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{gw.url}/ws") as ws:
        await ws.send_json({"type": "hello"})
        await ws.receive_json(timeout=30)
        await ws.send_json({"type": "message", "id": "m", "text": "rate me"})
        while (frame := await ws.receive_json(timeout=30))["type"] != "done":
            pass
        await ws.send_json({"type": "rate", "request_id": frame["request_id"], "score": 1})
        assert (await ws.receive_json(timeout=30))["score"] == 1


async def test_charts_are_full_on_first_render(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI, open_page: OpenPage
) -> None:
    gw = await gateway_factory()
    await create_user(gw, "ada", "viewer")
    for session in ("s1", "s2", "s3"):
        status, _ = await gw.chat("hello", session=session)
        assert status == 200
    fake_llm.script(Fail(status=400, message="no"), Fail(status=400, message="no"))
    status, _ = await gw.chat("this one fails", session="s4")
    assert status >= 400
    fake_llm.reset()  # a failure the router did not retry leaves its second one unused
    await rate_an_answer_on_the_web_page(gw)

    opened = await open_page()
    page = opened.page
    await login(page, gw, "ada")
    data = await logged_rows(page, gw, 5)
    assert sum(data["errors"]["api"]) == 1 and sum(data["tokens"]["fake"]) > 0

    refreshes: list[str] = []

    async def refused(route: Any) -> None:
        refreshes.append(route.request.url)
        await route.abort()

    await page.route("**/admin/api/series*", refused)  # only the page's own data can draw
    await page.goto(f"{gw.url}/admin?range=24h")
    await expect(page.locator("body[data-charted='24h']")).to_have_count(1)
    embedded = json.loads(await page.locator("#series-data").text_content() or "{}")
    assert sum(embedded["messages"]["api"]) == 4
    for chart in CHARTS:
        figure = page.locator(f"#{chart}")
        await expect(figure.locator("canvas")).to_have_count(1)
        points = int(await figure.get_attribute("data-points") or "0")
        assert points > 0, f"{chart} drew nothing"
    await expect(page.locator("#chart-messages .u-legend")).to_contain_text("REST API")
    await expect(page.locator("#chart-tokens .u-legend")).to_contain_text("fake")
    assert embedded["thumbs_up"]["fake"][-1] == 1.0  # the one 👍, in the bucket of now
    await expect(page.locator("#chart-messages")).to_contain_text("Messages per 15 min")
    assert refreshes == [] and await page.locator("body[data-refreshed]").count() == 0

    await page.click("a[data-range='1h']")
    await expect(page.locator("body[data-charted='1h']")).to_have_count(1)
    assert int(await page.locator("#chart-errors").get_attribute("data-points") or "0") == 1
    await expect(page.locator("#chart-messages")).to_contain_text("Messages per 1 min")

    chinese = (await open_page(locale="zh-CN", viewport=PHONE)).page
    await login(chinese, gw, "ada")
    await expect(chinese.locator("h1")).to_have_text("概览")
    await expect(chinese.locator("#chart-messages figcaption")).to_have_text(
        "每 15 分钟消息数（按渠道）"
    )
    assert int(await chinese.locator("#chart-latency").get_attribute("data-points") or "0") > 0
    width = "() => [document.querySelector('.history').scrollWidth, window.innerWidth]"
    assert (await chinese.evaluate(width))[0] <= 375  # the charts fit a phone
