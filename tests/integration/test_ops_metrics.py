"""Operating metrics and log files of a real gateway (issue 7).

The alert rules and the dashboard may only read series the gateway really exports; the backlog
and event-loop gauges move when work waits; `logging.file` rotates and masks.
"""

from __future__ import annotations

import json

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.openai_server import FakeOpenAI, Hang
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.monitoring_files import (
    EXTERNAL_METRICS,
    alert_rules,
    dashboard_queries,
    metric_names,
)
from tests.support.waiting import wait_until
from tests.support.webhook_client import post_message, webhook_config

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


async def scrape(gw: RunningGateway) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/metrics") as response:
        assert response.status == 200
        return await response.text()


def exported_names(exposition: str) -> set[str]:
    """Every series name the exposition can carry, including families without samples yet
    (a labelled counter nobody has incremented is still declared)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def gauge(exposition: str, name: str) -> float | None:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    return None


async def test_alerts_and_dashboard_read_only_exported_metrics(
    gateway_factory: GatewayFactory,
) -> None:
    async with CallbackReceiver(secret="callback-secret-123") as receiver:
        gw = await gateway_factory(webhook_config(receiver))
        assert await post_message(gw, "m-1", "hello") == (202, "accepted")
        await receiver.wait_for(1)
        assert (await gw.chat("hi"))[0] == 200
        exposition = await scrape(gw)
    exported = exported_names(exposition)
    used = {
        name: source
        for source, exprs in (
            ("alerts.yml", [rule["expr"] for rule in alert_rules()]),
            ("ai-bot.json", dashboard_queries()),
        )
        for expr in exprs
        for name in metric_names(expr)
    }
    missing = {
        name: source
        for name, source in used.items()
        if name not in exported and name not in EXTERNAL_METRICS
    }
    assert not missing, f"not exported by the gateway: {missing}"
    assert {
        "aibot_event_loop_lag_seconds",
        "aibot_inbox_pending",
        "aibot_inbox_oldest_seconds",
        "aibot_outbox_oldest_seconds",
    } <= exported
    lag = gauge(exposition, "aibot_event_loop_lag_seconds")
    assert lag is not None and 0 <= lag < 1


async def test_backlog_gauges_show_waiting_work(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    async with CallbackReceiver(secret="callback-secret-123") as receiver:
        receiver.script(*([503] * 200))  # the platform is down: the reply stays in the outbox
        fake_llm.script(Hang(6.0))  # the model is slow: the message stays pending meanwhile
        gw = await gateway_factory(webhook_config(receiver))
        assert await post_message(gw, "m-1", "hello") == (202, "accepted")
        latest = ""

        async def poll(condition_name: str, minimum: float) -> bool:
            nonlocal latest
            for _ in range(150):
                latest = await scrape(gw)
                if (gauge(latest, condition_name) or 0) >= minimum:
                    return True
                await wait_until(lambda: False, timeout=0.1)
            return False

        # The rescan samples the inbox every 5 s; the message waits on the model for 6.
        assert await poll("aibot_inbox_oldest_seconds", 0.5), latest
        assert gauge(latest, "aibot_inbox_pending") == 1
        assert await poll("aibot_outbox_oldest_seconds", 0.2), latest
        assert (gauge(latest, "aibot_outbox_pending") or 0) >= 1
        assert 'aibot_messages_out_total{channel="webhook",outcome="retry"}' in latest


async def test_log_file_is_json_rotated_and_masked(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(
        {"logging": {"file": "logs/ai-bot.log", "rotate": "size", "max_bytes": 2048, "backups": 2}}
    )
    for n in range(20):  # ~8 KB of lines: more than the file and its two backups hold
        assert (await gw.chat(f"hello {n}", session=f"alice{n}@example.com"))[0] == 200
    await gw.stop()
    logs = gw.workdir / "logs"
    assert sorted(p.name for p in logs.iterdir()) == ["ai-bot.log", "ai-bot.log.1", "ai-bot.log.2"]
    lines = [
        json.loads(line)
        for path in logs.iterdir()
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    handled = [line for line in lines if line["event"] == "message handled"]
    assert handled and all(line["session"] == "api:key-1:[email]" for line in handled)
    assert all(path.stat().st_size <= 2048 + 1024 for path in logs.iterdir())
    assert "@example.com" not in gw.log() + "".join(
        path.read_text(encoding="utf-8") for path in logs.iterdir()
    )
