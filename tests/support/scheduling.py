"""Schedulers as the schedule tests drive them: on a migrated store, with an injected clock,
an owner name each (two of them are two replicas), and a model answer the test controls.

Run as a program (`python -m tests.support.scheduling URL NOW MARKER` from the repository), it
is a replica that claims the due prompt job, writes MARKER once it holds the claim, and then
waits forever in the model call: the test SIGKILLs it there, between the claim and the send."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aibot.config import RemindersConfig, ScheduleConfig
from aibot.schedules.scheduler import Scheduler, SchedulerParts
from aibot.store.database import Database
from aibot.store.engine import create_engine
from aibot.store.repository import Repository
from aibot.store.schedules import ScheduleRows
from aibot.store.writer import GroupCommitWriter
from tests.support.databases import writer_for

Answer = Callable[[ScheduleConfig], Awaitable[str]]

DAILY = {
    "name": "daily",
    "cron": "0 9 * * *",
    "time_zone": "Asia/Shanghai",
    "target": {"channel": "webhook", "chat_id": "ops"},
}


def job(**fields: Any) -> ScheduleConfig:
    return ScheduleConfig.model_validate({**DAILY, **fields})


async def fixed_answer(job: ScheduleConfig) -> str:
    return f"answer to {job.prompt}"


def scheduler_on(
    engine: Database,
    jobs: Sequence[ScheduleConfig],
    clock: Callable[[], float],
    owner: str,
    answer: Answer = fixed_answer,
    **reminders: Any,
) -> tuple[Scheduler, GroupCommitWriter]:
    writer = writer_for(engine)
    writer.start()
    parts = SchedulerParts(ScheduleRows(engine), Repository(engine), writer, lambda: None, answer)
    config = RemindersConfig.model_validate(reminders)
    return Scheduler(parts, jobs, config, clock, owner=owner, lease=60.0), writer


async def outbox_texts(engine: Database) -> list[str]:
    from sqlalchemy import select

    from aibot.store.schema import outbox

    async with engine.connect() as connection:
        return [r.text for r in (await connection.execute(select(outbox.c.text))).all()]


async def _child(url: str, now: float, marker: Path) -> None:
    engine = create_engine(url)

    async def claimed_then_hang(_job: ScheduleConfig) -> str:
        marker.write_text("claimed")
        await asyncio.sleep(3600)
        return "never"

    scheduler, _ = scheduler_on(
        engine, [job(prompt="summary")], lambda: now, "child", claimed_then_hang
    )
    await scheduler.tick()


if __name__ == "__main__":
    asyncio.run(_child(sys.argv[1], float(sys.argv[2]), Path(sys.argv[3])))
