"""The sampled gauges: event-loop lag, inbox backlog (one aggregate query), outbox oldest age."""

from __future__ import annotations

import time
from typing import Any, cast

from aibot.config import OutboxConfig
from aibot.core.directory import ChannelDirectory
from aibot.core.inbox import Inbox
from aibot.core.messages import OutboxRow, ReplyTarget
from aibot.core.outbox import Outbox
from aibot.core.service import ChatService
from aibot.core.sessions import Writer
from aibot.ops.loop_lag import LoopLagSampler
from aibot.ops.metrics import Metrics
from aibot.store.database import Database
from aibot.store.repository import Repository
from tests.support.clock import FakeClock
from tests.support.databases import writer_for
from tests.support.waiting import wait_until


async def test_loop_lag_measures_a_blocked_loop() -> None:
    metrics = Metrics()
    sampler = LoopLagSampler(metrics, interval=0.02)
    sampler.start()
    try:
        assert await wait_until(lambda: _count(metrics) >= 2)  # sampling an idle loop
        time.sleep(0.3)  # blocks the loop: the delay being measured
        assert await wait_until(lambda: _value(metrics, "aibot_event_loop_lag_seconds") > 0.2)
        # The gauge is the last sample: it falls back once the loop runs freely again.
        assert await wait_until(lambda: _value(metrics, "aibot_event_loop_lag_seconds") < 0.2)
    finally:
        await sampler.stop()
    assert _value(metrics, "aibot_event_loop_lag_samples_seconds_sum") > 0.2
    late = _count(metrics) - (
        metrics.registry.get_sample_value(
            "aibot_event_loop_lag_samples_seconds_bucket", {"le": "0.25"}
        )
        or 0
    )
    assert late >= 1  # the histogram kept the spike for the alert


async def test_inbox_backlog_counts_pending_rows_and_their_age(sql_engine: Database) -> None:
    repo, writer = Repository(sql_engine), writer_for(sql_engine)
    writer.start()
    metrics = Metrics()
    inbox = Inbox(repo, writer, cast(ChatService, None), metrics, lambda: None, FakeClock(100.0))
    await inbox.report_backlog()
    assert _value(metrics, "aibot_inbox_pending") == 0
    assert _value(metrics, "aibot_inbox_oldest_seconds") == 0
    for n, received in enumerate((40.0, 70.0, 90.0)):
        await writer.submit(
            repo.accept_inbox("tg", f"m{n}", "s", "u", "hi", ReplyTarget(), received)
        )
    (done,) = await writer.submit(
        repo.accept_inbox("tg", "m-old", "s", "u", "hi", ReplyTarget(), 10.0)
    )
    await writer.submit(repo.finish_inbox(done, "done", 11.0))
    await inbox.report_backlog()
    assert _value(metrics, "aibot_inbox_pending") == 3
    assert _value(metrics, "aibot_inbox_oldest_seconds") == 60.0  # the finished row is not counted
    await writer.stop()


async def test_outbox_pass_reports_the_oldest_pending_reply() -> None:
    rows = [
        OutboxRow(n, None, "tg", f"s{n}", ReplyTarget(), "hi", 0, created, 1e12)
        for n, created in enumerate((95.0, 80.0, 99.0))
    ]

    class Store:
        async def pending_outbox(self, limit: int) -> list[OutboxRow]:
            return rows[:limit]

        def update_outbox(self, outbox_id: int, now: float, **values: Any) -> Any:
            raise AssertionError("nothing is due, so nothing is written")

        def claim_outbox(self, outbox_id: int, me: str, seen: str | None) -> Any:
            raise AssertionError("nothing is due, so nothing is claimed")

    metrics = Metrics()
    outbox = Outbox(
        Store(), cast(Writer, None), ChannelDirectory(), OutboxConfig(), metrics, FakeClock(100.0)
    )
    await outbox.deliver_due()
    assert _value(metrics, "aibot_outbox_pending") == 3
    assert _value(metrics, "aibot_outbox_oldest_seconds") == 20.0
    rows.clear()
    await outbox.deliver_due()
    assert _value(metrics, "aibot_outbox_oldest_seconds") == 0


def _value(metrics: Metrics, name: str) -> float:
    value = metrics.registry.get_sample_value(name)
    assert value is not None, name
    return value


def _count(metrics: Metrics) -> float:
    return metrics.registry.get_sample_value("aibot_event_loop_lag_samples_seconds_count") or 0
