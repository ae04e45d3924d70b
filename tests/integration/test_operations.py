"""Health, readiness, metrics and logs of a running gateway."""

from __future__ import annotations

import aiohttp
import orjson

from tests.fakes.openai_server import Fail, FakeOpenAI
from tests.support.gateway import GatewayFactory


async def test_health_metrics_and_logs(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory()
    fake_llm.script(Fail(429, retry_after=0.1))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gw.url}/healthz") as response:
            assert response.status == 200
        async with http.get(f"{gw.url}/readyz") as response:
            report = await response.json()
            assert response.status == 200 and report["ready"] is True
            assert report["store"] == {"ok": True, "backend": "sqlite"}
            assert report["provider"]["default"] == "fake"
        for n in range(3):
            assert (await gw.chat(f"n{n}", session="m"))[0] == 200
        async with http.get(f"{gw.url}/metrics") as response:
            text = await response.text()
    assert 'aibot_messages_in_total{channel="api"} 3.0' in text
    assert 'aibot_provider_errors_total{kind="rate_limited",provider="fake"} 1.0' in text
    assert 'aibot_stage_seconds_count{stage="model"} 3.0' in text
    assert 'aibot_provider_seconds_count{provider="fake"} 3.0' in text
    assert 'aibot_tokens_total{direction="completion",provider="fake"}' in text
    assert "aibot_queue_depth 0.0" in text
    assert 'aibot_messages_out_total{channel="api",outcome="answered"} 3.0' in text

    await gw.stop()
    log = gw.log()
    assert "sk-fake-provider-key-123456" not in log and gw.api_key not in log
    lines = [orjson.loads(line) for line in log.splitlines() if line.startswith("{")]
    handled = [line for line in lines if line["event"] == "message handled"]
    assert len(handled) == 3
    assert all(len(line["request_id"]) == 32 for line in handled)
    assert len({line["request_id"] for line in handled}) == 3
    assert any(line["event"] == "retrying model call" for line in lines)
