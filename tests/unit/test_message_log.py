"""The dashboard's message log (core/message_log.py) on a real SQLite store: outcomes wait in
memory and reach the store together, by themselves within a second of the first, and at once
when the gateway flushes before its writer stops."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from aibot.core.message_log import MessageLog
from aibot.core.messages import MessageOutcome
from aibot.store.database import Database
from aibot.store.repository import Repository
from aibot.store.schema import message_log
from tests.support.databases import migrated_store, writer_for
from tests.support.waiting import eventually


async def rows(engine: Database) -> int:
    async with engine.connect() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(message_log))).scalar_one()
        )


def outcome(failed: bool = False) -> MessageOutcome:
    return MessageOutcome(1_780_000_000.0, "api", "deepseek", failed, 0.4, 12)


async def test_outcomes_reach_the_store_without_more_traffic(tmp_path: Path) -> None:
    async with migrated_store("sqlite", tmp_path) as engine:
        writer = writer_for(engine)
        writer.start()
        log = MessageLog(Repository(engine), writer)
        for failed in (False, False, True):
            log.add(outcome(failed))

        async def all_three() -> bool:
            return await rows(engine) == 3

        assert await eventually(all_three, timeout=30)
        await writer.stop()


async def test_a_flush_before_the_writer_stops_keeps_the_last_rows(tmp_path: Path) -> None:
    async with migrated_store("sqlite", tmp_path) as engine:
        writer = writer_for(engine)
        writer.start()
        log = MessageLog(Repository(engine), writer)
        log.add(outcome())
        log.flush()  # as Gateway.stop does, before the writer's last commit
        await writer.stop()
        assert await rows(engine) == 1
