"""The group commit on PostgreSQL runs on a raw asyncpg connection (store/pg_write.py): every
kind of write the store makes takes that path and means what it meant through the engine
(returning values, dedupe, fenced writes, repeated parameters); what it cannot send exactly
goes through the engine; errors keep SQLAlchemy's classes; a dropped connection is replaced."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.core.errors import StaleWrite
from aibot.core.messages import ReplyTarget, TurnRecord
from aibot.store.engine import create_engine
from aibot.store.pg_write import PgWrites
from aibot.store.repository import Repository
from aibot.store.schema import conversations, outbox
from aibot.store.writer import GroupCommitWriter, Write
from tests.support.databases import migrated_store, server_engine, writer_for


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_store("postgresql", tmp_path) as engine:
        yield server_engine(engine)


@pytest.fixture
def raw_runs(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each batch ran on the raw connection (True) or went to the engine (False)."""
    runs: list[bool] = []
    real = PgWrites.run

    async def counted(self: PgWrites, *args: Any) -> bool:
        ran = await real(self, *args)
        runs.append(ran)
        return ran

    monkeypatch.setattr(PgWrites, "run", counted)
    return runs


@pytest.fixture
async def writer(engine: AsyncEngine) -> AsyncIterator[GroupCommitWriter]:
    writer = writer_for(engine)
    writer.start()
    yield writer
    await writer.stop()


async def test_the_stores_writes_take_the_raw_path_and_mean_the_same(
    engine: AsyncEngine, writer: GroupCommitWriter, raw_runs: list[bool]
) -> None:
    repo, fenced = Repository(engine), Repository(engine, fenced=True)
    turns = [TurnRecord("user", "你好", 1.0), TurnRecord("assistant", "echo: 你好", 1.5)]
    await writer.submit(repo.save_conversation("s", "api", "u", 1.0), *repo.add_turns("s", turns))
    await writer.submit(repo.save_conversation("s", "api", "u", 2.0, model="m"))
    row, loaded = await repo.load_session("s", 10)
    assert row is not None and (row.model, row.updated_at) == ("m", 2.0)
    assert [t.content for t in loaded] == ["你好", "echo: 你好"]

    target = ReplyTarget(platform={"chat": 1})
    accept = repo.accept_inbox("tg", "m1", "s", "u", "hi", target, 1.0)
    [inbox_id] = await writer.submit(accept)
    assert isinstance(inbox_id, int)
    assert await writer.submit(accept) == [None]  # a re-delivery is dropped: no row, no id
    await writer.submit(fenced.finish_inbox(inbox_id, "done", 3.0))
    with pytest.raises(StaleWrite):  # no longer pending: another replica finished it
        await writer.submit(fenced.finish_inbox(inbox_id, "failed", 4.0))

    await writer.submit(repo.enqueue_outbox(inbox_id, "tg", "s", target, "answer", 3.0))
    async with engine.connect() as connection:
        outbox_id = (await connection.execute(select(outbox.c.id))).scalar_one()
    assert await writer.submit(repo.claim_outbox(outbox_id, "me", None)) == [outbox_id]
    assert await writer.submit(repo.claim_outbox(outbox_id, "other", None)) == [None]
    await writer.submit(repo.update_outbox(outbox_id, 5.0, status="sent", owner=None))
    await writer.submit(repo.reset_chat("s", 6.0))  # one parameter used twice
    async with engine.connect() as connection:
        sent = (await connection.execute(select(outbox.c.status, outbox.c.owner))).one()
        since = (await connection.execute(select(conversations.c.context_from))).scalar_one()
    assert tuple(sent) == ("sent", None) and since == 6.0
    assert raw_runs and all(raw_runs)


async def test_a_write_the_raw_path_cannot_send_exactly_goes_through_the_engine(
    engine: AsyncEngine, writer: GroupCommitWriter, raw_runs: list[bool]
) -> None:
    """`user_id` and `context_from` have Python-side defaults the engine fills in."""
    bare = Write(
        conversations.insert(),
        {"session_key": "b", "channel": "api", "created_at": 1.0, "updated_at": 1.0},
    )
    await writer.submit(bare)
    async with engine.connect() as connection:
        row = (
            await connection.execute(select(conversations.c.user_id, conversations.c.context_from))
        ).one()
    assert tuple(row) == ("", 0.0)
    assert raw_runs == [False]


async def test_a_unique_violation_is_sqlalchemys_integrity_error(
    engine: AsyncEngine, writer: GroupCommitWriter
) -> None:
    repo = Repository(engine)
    insert = repo.save_conversation("k", "api", "u", 1.0)
    plain = Write(conversations.insert(), insert.params)
    await writer.submit(plain)
    with pytest.raises(IntegrityError):
        await writer.submit(plain)
    await writer.submit(repo.save_conversation("k", "api", "u", 2.0))  # the writer goes on


async def test_a_connection_the_server_dropped_is_replaced(
    engine: AsyncEngine, writer: GroupCommitWriter, raw_runs: list[bool]
) -> None:
    repo = Repository(engine)
    await writer.submit(repo.save_conversation("k", "api", "u", 1.0))
    async with engine.connect() as connection:
        await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        await connection.commit()
    await asyncio.sleep(0.2)
    for n in range(3):
        await writer.submit(repo.save_conversation("k", "api", "u", 2.0 + n))
    row, _ = await repo.load_session("k", 2)
    assert row is not None and row.updated_at == 4.0
    assert all(raw_runs)


async def test_a_refused_connection_is_the_stores_error(engine: AsyncEngine) -> None:
    """What a server starting or stopping answers (a PostgreSQL error at connect) must reach
    the edge as `DBAPIError`, its 503, as through the engine; here: no such database."""
    gone = create_engine(
        engine.url.set(database="aibot_no_such_db").render_as_string(hide_password=False)
    )
    writer = GroupCommitWriter(gone)
    writer.start()
    try:
        with pytest.raises(DBAPIError):
            await writer.submit(Repository(gone).save_conversation("k", "api", "u", 1.0))
    finally:
        await writer.stop()
        await gone.dispose()


class ConfusedConnection:
    """What a server restart left the writer's connection as in a CI run: open, but asyncpg
    refuses its next BEGIN ("cannot switch to state 15; another operation (2) is in progress"),
    or its next statement (a batch of plain inserts is one: store/pg_bulk.py)."""

    def __init__(self) -> None:
        self.terminated = False

    def is_closed(self) -> bool:
        return False

    def transaction(self) -> Any:
        raise asyncpg.exceptions.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"
        )

    async def execute(self, *_: Any) -> Any:
        self.transaction()

    def terminate(self) -> None:
        self.terminated = True


async def test_a_confused_connection_is_the_stores_error_and_replaced(
    engine: AsyncEngine, writer: GroupCommitWriter, raw_runs: list[bool]
) -> None:
    repo = Repository(engine)
    await writer.submit(repo.save_conversation("k", "api", "u", 1.0))
    raw = writer._raw
    assert isinstance(raw, PgWrites)
    real, confused = raw._connection, ConfusedConnection()
    raw._connection = confused
    with pytest.raises(DBAPIError):  # the edge's 503 store_unavailable, not an unknown 500
        await writer.submit(repo.save_conversation("k", "api", "u", 2.0))
    assert confused.terminated
    await real.close()
    await writer.submit(repo.save_conversation("k", "api", "u", 3.0))  # on a new connection
    row, _ = await repo.load_session("k", 2)
    assert row is not None and row.updated_at == 3.0
    assert all(raw_runs)
