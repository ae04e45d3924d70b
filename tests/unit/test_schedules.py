"""Schedules with an injected clock, on every store: a job fires once across two replicas, a
process killed between claim and send loses and doubles nothing, missed runs follow
`misfire_grace`, a reminder survives a restart; and `/remind`'s strict format."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from aibot.core.messages import ReplyTarget
from aibot.schedules.reminders import parse_when
from aibot.store.database import Database
from aibot.store.schedules import ScheduleRows
from aibot.store.schema import scheduled_tasks
from tests.support.clock import FakeClock
from tests.support.scheduling import job, outbox_texts, scheduler_on
from tests.support.waiting import wait_until

SHANGHAI = ZoneInfo("Asia/Shanghai")
REPO = Path(__file__).resolve().parents[2]


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


async def statuses(engine: Database) -> list[str]:
    async with engine.connect() as connection:
        query = select(scheduled_tasks.c.status).order_by(scheduled_tasks.c.due_at)
        return [r.status for r in (await connection.execute(query)).all()]


async def test_a_job_fires_once_across_two_replicas(sql_engine: Database) -> None:
    clock = FakeClock(at("2026-12-07 08:59:30"))
    jobs = [job(message="站会开始 🕘")]
    a, writer_a = scheduler_on(sql_engine, jobs, clock, "replica-a")
    b, writer_b = scheduler_on(sql_engine, jobs, clock, "replica-b")
    try:
        await asyncio.gather(a.tick(), b.tick())
        assert await outbox_texts(sql_engine) == []
        clock.advance(40)  # 09:00:10
        for _ in range(3):
            await asyncio.gather(a.tick(), b.tick())
        assert await outbox_texts(sql_engine) == ["站会开始 🕘"]
        clock.advance(86400)  # the next day's run, once again
        await asyncio.gather(a.tick(), b.tick(), a.tick(), b.tick())
        assert await outbox_texts(sql_engine) == ["站会开始 🕘"] * 2
    finally:
        await writer_a.stop()
        await writer_b.stop()


async def test_a_tick_without_schedules_makes_one_query(sql_engine: Database) -> None:
    """Every replica ticks every second, idle or not (issue 20: a replica's background polls):
    with no schedule configured, only the due reminders are read."""
    scheduler, writer = scheduler_on(sql_engine, [], FakeClock(at("2026-12-07 08:59:30")), "r")
    selects: list[str] = []

    def counted(*args: object) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            selects.append(str(args[2]))

    event.listen(sql_engine.sync_engine, "before_cursor_execute", counted)
    try:
        assert await scheduler.tick() == 0
        assert len(selects) == 1 and "scheduled_tasks" in selects[0]
    finally:
        event.remove(sql_engine.sync_engine, "before_cursor_execute", counted)
        await writer.stop()


@pytest.mark.timeout(120)
async def test_sigkill_between_claim_and_send_loses_nothing_doubles_nothing(
    tmp_path: Path,
) -> None:
    from aibot.store.engine import create_engine, migrate

    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = create_engine(url)
    await migrate(engine)
    clock = FakeClock(at("2026-12-07 08:59:00"))
    survivor, writer = scheduler_on(engine, [job(prompt="summary")], clock, "survivor")
    try:
        await survivor.tick()  # the schedule is known; its first run is 09:00
        clock.advance(65)
        marker = tmp_path / "claimed"
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.support.scheduling", url, str(clock()), str(marker),
            cwd=REPO,
        )  # fmt: skip
        assert await wait_until(marker.exists, timeout=60)
        child.send_signal(signal.SIGKILL)
        await child.wait()
        assert await statuses(engine) == ["running"]  # claimed by the dead process
        assert await survivor.tick() == 0  # its lease still holds: nobody doubles it
        clock.advance(61)  # the lease lapses
        assert await survivor.tick() == 1
        await survivor.tick()
        assert await outbox_texts(engine) == ["answer to summary"]
        assert await statuses(engine) == ["sent"]
    finally:
        await writer.stop()
        await engine.dispose()


async def test_missed_runs_follow_misfire_grace(sql_engine: Database) -> None:
    clock = FakeClock(at("2026-12-07 08:00:00"))
    jobs = [job(message="hourly", cron="0 * * * *", misfire_grace="10m")]
    scheduler, writer = scheduler_on(sql_engine, jobs, clock, "one")
    try:
        await scheduler.tick()
        clock.advance(3 * 3600 + 300)  # down from 08:00 to 11:05: 09, 10 and 11 were missed
        await scheduler.tick()
        assert await statuses(sql_engine) == ["missed", "missed", "sent"]
        assert await outbox_texts(sql_engine) == ["hourly"]  # the latest, once
        clock.advance(3600 + 1200)  # 12:25: the 12:00 run is 25 min late, beyond grace
        await scheduler.tick()
        assert await statuses(sql_engine) == ["missed", "missed", "sent", "missed"]
    finally:
        await writer.stop()


async def test_a_reminder_survives_a_restart(tmp_path: Path) -> None:
    from aibot.store.engine import create_engine, migrate

    url = f"sqlite:///{tmp_path / 'store.db'}"
    clock = FakeClock(at("2026-12-07 10:00:00"))
    first = create_engine(url)
    await migrate(first)
    before, writer = scheduler_on(first, [], clock, "before")
    target = ReplyTarget("chat-1", "private")
    await writer.submit(
        ScheduleRows(first).add(
            kind="reminder", channel="webhook", session_key="s", user_id="u",
            target=target, text="喝水", due_at=clock() + 600, now=clock(),
        )
    )  # fmt: skip
    await before.tick()
    await writer.stop()
    await first.dispose()  # the gateway stops

    clock.advance(900)  # and starts again five minutes after the reminder was due
    second = create_engine(url)
    after, writer = scheduler_on(second, [], clock, "after")
    try:
        assert await after.tick() == 1
        assert await outbox_texts(second) == ["⏰ 提醒：喝水"]
    finally:
        await writer.stop()
        await second.dispose()


@pytest.mark.parametrize(
    ("arg", "due", "text"),
    [
        ("10m 喝水", "2026-12-07 10:10:00", "喝水"),
        ("90s stretch", "2026-12-07 10:01:30", "stretch"),
        ("2h 开会 带电脑", "2026-12-07 12:00:00", "开会 带电脑"),
        ("09:00 站会", "2026-12-08 09:00:00", "站会"),
        ("23:30 睡觉", "2026-12-07 23:30:00", "睡觉"),
        ("2026-12-24 09:00 会议", "2026-12-24 09:00:00", "会议"),
    ],
)
def test_remind_format(arg: str, due: str, text: str) -> None:
    assert parse_when(arg, at("2026-12-07 10:00:00"), "Asia/Shanghai") == (at(due), text)


@pytest.mark.parametrize("arg", ["", "喝水", "10x 喝水", "10m", "2026-13-40 09:00 x", "25:00 x"])
def test_remind_refuses_other_forms(arg: str) -> None:
    assert parse_when(arg, at("2026-12-07 10:00:00"), "Asia/Shanghai") is None
