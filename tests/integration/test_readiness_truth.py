"""`/readyz` tells the truth about the model: 503 with the cause in words when nothing can
answer — a rejected key, every circuit open, an unreachable vendor — the cause kept while the
circuit is open, and ready again once the vendor is back. `/healthz` stays 200 throughout."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import Fail, FakeOpenAI
from tests.support.cli import ai_bot
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.net import free_port

pytestmark = pytest.mark.timeout(180)

BREAKER = {"breaker_failures": 1, "breaker_cooldown": "1s"}


async def get(gw: RunningGateway, path: str, language: str = "en") -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(gw.url + path, headers={"Accept-Language": language}) as response,
    ):
        return response.status, await response.json()


async def readyz(gw: RunningGateway, language: str = "en") -> tuple[int, dict[str, Any]]:
    status, report = await get(gw, "/readyz", language)
    assert (await get(gw, "/healthz"))[0] == 200  # liveness never follows the model
    return status, report


async def test_a_rejected_key_is_named_and_kept_while_the_circuit_is_open(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory({"models": {**BREAKER, "breaker_cooldown": "1h"}})
    assert (await readyz(gw))[0] == 200
    fake_llm.api_key = "the-key-the-vendor-expects"  # the gateway's key is now refused
    status, _ = await gw.chat("hello")
    assert status == 502
    status, report = await readyz(gw)
    assert status == 503 and report["ready"] is False
    problems = report["provider"]["problems"]
    assert any("fake rejected the API key (401)" in p for p in problems), problems
    assert report["provider"]["circuits"]["fake"] == "open"
    assert any("paused" in p for p in problems)
    assert report["provider"]["last_errors"]["fake"]["kind"] == "auth"
    # The next message meets the open circuit; the 401 is still the cause people read.
    status, body = await gw.chat("again")
    assert status in (502, 503), body
    assert "rejected the API key (401)" in body["error"]["message"], body
    status, report = await readyz(gw, "zh-CN,zh;q=0.9")
    assert status == 503
    assert any("fake 拒绝了 API 密钥（401）" in p for p in report["provider"]["problems"])
    # The page's banner says the same, at connect and after a failed answer.
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(
            gw.url.replace("http", "ws") + "/ws", headers={"Accept-Language": "en-US"}
        )
        await ws.send_json({"type": "hello"})
        ready = await ws.receive_json(timeout=10)
        assert any("rejected the API key (401)" in p for p in ready["problems"]), ready
        await ws.send_json({"type": "message", "id": "m", "text": "hi"})
        while (frame := await ws.receive_json(timeout=20))["type"] not in ("done", "error"):
            pass
        assert frame["type"] == "error"
        assert any("rejected the API key (401)" in p for p in frame["problems"]), frame
        await ws.close()
    # doctor finds the port taken by this very gateway and reports its readiness, not "busy".
    doctor = await ai_bot(gw.workdir, "doctor", "-c", str(gw.config_path))
    assert doctor.code == 1 and "running but not ready" in doctor.output, doctor.output
    assert "API key (401)" in doctor.output or "API 密钥（401）" in doctor.output
    assert "is ai-bot already running" not in doctor.output


async def test_every_circuit_open_is_503_unless_a_fallback_answers(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    async with FakeOpenAI() as healthy:
        second = {"base_url": healthy.base_url, "model": "m", "max_retries": 0}
        alone = await gateway_factory({"models": BREAKER}, name="alone")
        backed = await gateway_factory(
            {
                "models": {
                    **BREAKER,
                    "breaker_cooldown": "1h",
                    "fallbacks": ["second"],
                    "providers": {"second": second},
                }
            },
            name="backed",
        )
        fake_llm.fault = Fail(500)
        assert (await alone.chat("hello"))[0] in (502, 503)
        status, report = await readyz(alone)
        assert status == 503
        assert any("fake is failing (HTTP 500)" in p for p in report["provider"]["problems"])

        status, body = await backed.chat("hello")
        assert status == 200 and body["provider"] == "second"
        status, report = await readyz(backed)
        assert status == 200, report  # degraded, not down: the fallback answers
        assert report["provider"]["circuits"]["fake"] == "open"
        assert any("fake is failing (HTTP 500)" in p for p in report["provider"]["problems"])


async def test_an_unreachable_vendor_is_503_until_it_is_back(
    gateway_factory: GatewayFactory,
) -> None:
    port = free_port()
    gw = await gateway_factory(
        {"models": {**BREAKER, "providers": {"fake": {"base_url": f"http://127.0.0.1:{port}/v1"}}}}
    )
    assert (await gw.chat("hello"))[0] in (502, 503)
    status, report = await readyz(gw)
    assert status == 503
    cause = f"fake cannot be reached at http://127.0.0.1:{port}/v1"
    assert cause in report["provider"]["problems"], report["provider"]["problems"]

    async with FakeOpenAI() as back:
        await back.stop()
        await back.start(port=port)
        for _ in range(100):  # /readyz itself asks GET /models at most once per cooldown
            status, report = await readyz(gw)
            if status == 200:
                break
            await asyncio.sleep(0.2)
        assert status == 200, report
        assert (await gw.chat("and now?"))[0] == 200
