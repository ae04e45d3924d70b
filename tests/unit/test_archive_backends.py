"""The archive's SQL (stub upsert, idle selection, delete, restore with ids) on SQLite,
PostgreSQL and MariaDB, against the loopback S3 server."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from aibot.config.archive import ArchiveConfig
from aibot.core.messages import TurnRecord
from aibot.store.archive.archiver import Archiver
from aibot.store.archive.bucket import Bucket
from aibot.store.archive.restore import restore
from aibot.store.database import Database
from aibot.store.repository import Repository
from aibot.store.schema import archive_objects, turns
from aibot.store.writer import GroupCommitWriter
from tests.fakes.s3_server import S3Server

DAY = 86400.0
NOW = 1_765_000_000.0


async def every_turn(engine: Database) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(select(turns).order_by(turns.c.id))).all())


async def test_archive_and_restore_round_trip_on_every_backend(sql_engine: Database) -> None:
    repo, writer = Repository(sql_engine), GroupCommitWriter(sql_engine)
    writer.start()
    for session, age in (("old 会话", 40), ("recent", 1)):
        at = NOW - age * DAY
        await writer.submit(
            repo.save_conversation(session, "api", "u", at + 1),
            *repo.add_turns(
                session, [TurnRecord("user", "你好 🌏", at), TurnRecord("assistant", "hi", at + 1)]
            ),
        )
    await writer.stop()
    before = await every_turn(sql_engine)
    async with S3Server() as s3:
        bucket = Bucket(ArchiveConfig(**s3.config()))
        report = await Archiver(sql_engine, bucket, clock=lambda: NOW).run(30)
        assert (report.conversations, report.turns) == (1, 2)
        assert [row.session_key for row in await every_turn(sql_engine)] == ["recent", "recent"]
        again = await Archiver(sql_engine, bucket, clock=lambda: NOW).run(30)
        assert again.turns == 0  # idempotent: nothing left to move
        assert (await restore(sql_engine, bucket, "old 会话", clock=lambda: NOW)).turns == 2
        assert await Archiver(sql_engine, bucket, clock=lambda: NOW).run(30) == type(report)()
    assert await every_turn(sql_engine) == before
    async with sql_engine.connect() as connection:
        stub = (await connection.execute(select(archive_objects))).one()
    assert stub.restored_at == NOW and stub.manifest is not None
