"""The admin console and the chat page in zh-CN and en, as a phone (375 px) shows them.

One gateway with something on every page (a conversation, a second provider in a canary split,
a schedule, sensitive words, an API key made in the page), with the four chat platforms
configured against their fakes and a Feishu conversation, so the channels, the dashboard and
the conversations name them (飞书, not `feishu`, to a zh-CN reader). For each language, set by the
browser's Accept-Language: the sign-in page (and a refused sign-in), every console page, an
error page and the chat page are read as a person sees them (tests/support/page_words.py). In
zh-CN no English of the catalog and no English sentence may show; in en no Chinese. On every
console page no word of a table is split over two lines and the page itself does not scroll
sideways (a wide table scrolls in its own box). The console has its favicon.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from tests.fakes.openai_server import FakeOpenAI
from tests.support.admin_http import PASSWORD, create_user
from tests.support.browser import PHONE, OpenPage
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.net import free_port
from tests.support.page_words import (
    broken_words,
    catalog_english,
    chinese,
    english_sentences,
    read_words,
)
from tests.support.platforms import platform_fakes, platforms_config

CONSOLE_PAGES = (
    "/admin",
    "/admin/conversations",
    "/admin/channels",
    "/admin/models",
    "/admin/policies",
    "/admin/keys",
    "/admin/schedules",
    "/admin/dead-letters",
    "/admin/audit",
    "/admin/users",
    "/admin/account/password",
    "/admin/conversation?key=no-such-conversation",  # the error page
)
SIDEWAYS = "() => document.scrollingElement.scrollWidth - window.innerWidth"


def setup(fake_llm: FakeOpenAI, platforms: dict[str, Any]) -> dict[str, Any]:
    second = {
        "base_url": fake_llm.base_url,
        "api_key": "sk-fake-provider-key-654321",
        "model": "second-model",
        "timeout": 10,
        "max_retries": 1,
    }
    port = free_port()
    platforms["feishu"].webhook_url = f"http://127.0.0.1:{port}/feishu/webhook"
    configured = platforms_config(port, platforms)
    return {
        "server": configured["server"],
        "models": {"providers": {"second": second}, "canary": {"provider": "second", "weight": 20}},
        "channels": {
            "webhook": {"callback_url": "http://127.0.0.1:9/callback"},
            **configured["channels"],
        },
        "schedules": [
            {
                "name": "standup",
                "cron": "55 9 * * 1-5",
                "time_zone": "Asia/Shanghai",
                "target": {"channel": "webhook", "chat_id": "team"},
                "message": "standup 09:55",
            }
        ],
        "policy": {"sensitive_words": {"words": ["foo", "bar"]}},
    }


def problems_in(language: str, pieces: Any) -> list[str]:
    if language == "en":
        return [f"Chinese: {text}" for text in chinese(pieces)]
    return [f"catalog English: {text}" for text in catalog_english(pieces)] + [
        f"English sentence: {text}" for text in english_sentences(pieces)
    ]


async def read(page: Any, language: str, where: str, found: dict[str, list[str]]) -> None:
    problems = problems_in(language, await read_words(page))
    if (lang := await page.get_attribute("html", "lang")) != language:
        problems.append(f"<html lang={lang}>")
    if where.startswith("/admin") and where != "/admin/login":
        problems += [f"word split over two lines: {w}" for w in await broken_words(page)]
        if (wider := await page.evaluate(SIDEWAYS)) > 0:
            problems.append(f"the page scrolls sideways by {wider} px")
    if problems:
        found[f"{language} {where}"] = problems


async def sign_in(
    page: Any, gw: RunningGateway, language: str, found: dict[str, list[str]]
) -> None:
    await page.goto(f"{gw.url}/admin/login")
    await read(page, language, "/admin/login", found)
    for password in ("not the password", PASSWORD):
        await page.fill("input[name=name]", "root")
        await page.fill("input[name=password]", password)
        await page.click("#login button[type=submit]")
        await page.wait_for_load_state()
        if password != PASSWORD:
            await page.wait_for_selector("#error")
            await read(page, language, "/admin/login (refused)", found)
    await page.wait_for_selector("#whoami")


async def test_console_and_page_in_chinese_and_english_at_375_px(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI, open_page: OpenPage
) -> None:
    async with AsyncExitStack() as stack:
        platforms = await platform_fakes(stack)
        gw = await gateway_factory(setup(fake_llm, platforms))
        await create_user(gw, "root", "admin")
        assert (await gw.chat("ping 42"))[0] == 200
        platforms["feishu"].user_message("oc_dm1", "ping 43")
        await platforms["feishu"].wait_texts("oc_dm1", 1, timeout=30)
        found = await read_every_page(gw, open_page)
    assert not found, "\n".join(f"{where}: {p}" for where, ps in found.items() for p in ps)


async def read_every_page(gw: RunningGateway, open_page: OpenPage) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for language in ("zh-CN", "en"):
        page = (await open_page(viewport=PHONE, locale=language)).page
        await sign_in(page, gw, language, found)
        if language == "zh-CN":  # a key in the table, for both languages
            await page.goto(f"{gw.url}/admin/keys")
            await page.fill("#create-key input[name=name]", "ci")
            await page.click("#create-key button[type=submit]")
            await page.wait_for_selector("#new-key")
            await read(page, language, "/admin/keys (new key)", found)
        for where in CONSOLE_PAGES:
            await page.goto(gw.url + where)
            await read(page, language, where, found)
        await page.goto(f"{gw.url}/admin/conversations")
        await page.click("#conversations a")
        await page.wait_for_selector("#transcript li")
        await read(page, language, "/admin/conversation", found)
        await page.goto(f"{gw.url}/admin/policies")
        await page.click("#edit-policies button[type=submit]")
        await page.wait_for_selector("#saved")
        await read(page, language, "/admin/policies (saved)", found)
        await page.goto(gw.url + "/")
        await page.wait_for_selector("body[data-conn=ready]")
        await read(page, language, "/", found)
    return found


async def test_the_console_has_a_favicon(
    gateway_factory: GatewayFactory, open_page: OpenPage
) -> None:
    gw = await gateway_factory()
    page = (await open_page()).page
    await page.goto(f"{gw.url}/admin/login")
    icon = await page.get_attribute("link[rel=icon]", "href")
    assert icon is not None
    status = await page.evaluate("(href) => fetch(href).then((r) => r.status)", icon)
    type_ = await page.evaluate(
        "(href) => fetch(href).then((r) => r.headers.get('content-type'))", icon
    )
    assert status == 200 and type_ is not None and type_.startswith("image/svg+xml")
