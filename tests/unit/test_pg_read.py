"""The conversation read on PostgreSQL through asyncpg's own protocol (store/pg_read.py): the
same answer as the engine's read (sealed values included), every commit seen by the next read,
and connections the server dropped replaced, whether they rested or were busy."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.core.messages import ToolCall, TurnRecord
from aibot.core.sessions import SessionMemory
from aibot.store.crypto import Keyring
from aibot.store.engine import create_engine
from aibot.store.pg_read import PgConnection, PgSessionRead, RawPool
from aibot.store.repository import Repository
from aibot.store.session_read import session_read_for
from tests.support.databases import migrated_store, server_engine, url_of, writer_for


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    async with migrated_store("postgresql", tmp_path) as engine:
        yield server_engine(engine)


async def kill_all_but_mine(engine: AsyncEngine) -> int:
    """What a database restart does to every connection but the one sending this."""
    async with engine.connect() as connection:
        killed = await connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        await connection.commit()
        return len(killed.all())


async def backend_pid(connection: PgConnection) -> int:
    return int((await connection.fetch("SELECT pg_backend_pid()"))[0][0])


async def slow_backend_pid(connection: PgConnection) -> int:
    return int((await connection.fetch("SELECT pg_backend_pid() FROM pg_sleep(0.5)"))[0][0])


def test_postgresql_gets_the_native_read(engine: AsyncEngine) -> None:
    assert isinstance(session_read_for(url_of(engine), engine, readers=4), PgSessionRead)


async def test_it_reads_what_the_engine_reads_sealed_or_plain(engine: AsyncEngine) -> None:
    ring = Keyring(os.urandom(32))
    writer = writer_for(engine)
    writer.start()
    fast = [
        Repository(engine, cipher=c, session_read=session_read_for(url_of(engine), engine, 4))
        for c in (ring, Keyring(os.urandom(32)))
    ]
    slow = Repository(engine, cipher=ring)
    records = [
        TurnRecord("user" if i % 2 == 0 else "assistant", f"回合 {i} 🙂", float(i + 1))
        for i in range(10)
    ]
    records[-2:] = [
        TurnRecord("assistant", "", 9.0, tool_calls=(ToolCall("c1", "clock", "{}"),)),
        TurnRecord("tool", "12:00", 10.0, tool_call_id="c1", name="clock"),
    ]
    await writer.submit(slow.save_conversation("s", "api", "u", 1.0), *slow.add_turns("s", records))
    await writer.submit(slow.save_conversation("s", "api", "u", 2.0, context_from=4.0, model="m"))
    await writer.submit(slow.save_conversation("bare", "api", "u", 3.0))
    await writer.stop()
    try:
        for session in ("s", "bare", "nobody"):
            for keep in (1, 4, 100):
                assert await fast[0].load_session(session, keep) == await slow.load_session(
                    session, keep
                )
        row, turns = await fast[0].load_session("s", 4)
        assert row is not None and (row.model, row.context_from, row.updated_at) == ("m", 4.0, 2.0)
        assert [t.content for t in turns] == ["回合 6 🙂", "回合 7 🙂", "", "12:00"]
        assert turns[2].tool_calls == (ToolCall("c1", "clock", "{}"),)
        assert await fast[0].load_session("bare", 4) == (
            (await slow.load_session("bare", 1))[0],
            [],
        )
        with pytest.raises(Exception, match="key"):  # sealed: another key cannot open it
            await fast[1].load_session("s", 4)
    finally:
        for repo in fast:
            await repo.close()


async def test_every_commit_is_seen_by_the_next_read(engine: AsyncEngine) -> None:
    """No cache: every message reads the store, as a new conversation does; each message's
    turns, committed through the gateway's writer, must be in the very next read."""
    repo = Repository(engine, session_read=session_read_for(url_of(engine), engine, 4))
    memory = SessionMemory(repo, max_turns=100, cache_size=0)
    writer = writer_for(engine)
    writer.start()
    try:
        for n in range(60):
            state = await memory.get("s")
            assert len(state.turns) == n
            now = float(n + 1)
            await writer.submit(
                repo.save_conversation("s", "api", "u", now),
                *repo.add_turns("s", [TurnRecord("user", f"m{n}", now)]),
            )
    finally:
        await writer.stop()
        await repo.close()


async def test_connections_killed_while_resting_are_replaced_unseen(engine: AsyncEngine) -> None:
    read = session_read_for(url_of(engine), engine, readers=3)
    assert isinstance(read, PgSessionRead)
    try:
        await asyncio.gather(*(read.load(f"s{i}", 4) for i in range(10)))
        assert await kill_all_but_mine(engine) >= 1
        await asyncio.sleep(0.2)
        for _ in range(3):
            assert await asyncio.gather(*(read.load(f"s{i}", 4) for i in range(10)))
    finally:
        await read.close()


async def test_a_busy_connection_killed_is_replaced_and_the_read_retried(
    engine: AsyncEngine,
) -> None:
    pool = RawPool.for_engine(engine, size=2)
    try:
        first = await pool.run(backend_pid)
        busy = asyncio.create_task(pool.run(slow_backend_pid))
        await asyncio.sleep(0.2)
        await kill_all_but_mine(engine)
        assert await busy not in (first, 0)  # answered by a fresh connection
        assert await pool.run(backend_pid) != first
    finally:
        await pool.close()


async def test_a_cancelled_read_leaves_no_broken_connection(engine: AsyncEngine) -> None:
    pool = RawPool.for_engine(engine, size=1)
    try:
        slow = asyncio.create_task(pool.run(slow_backend_pid))
        await asyncio.sleep(0.2)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        for _ in range(3):
            assert await pool.run(backend_pid) > 0
    finally:
        await pool.close()


async def test_a_failing_statement_is_the_stores_error(engine: AsyncEngine) -> None:
    """The HTTP edge answers DBAPIError with 503 `store_unavailable`, as for the engine."""
    pool = RawPool.for_engine(engine, size=1)

    async def broken(connection: PgConnection) -> object:
        return await connection.fetch("SELECT * FROM no_such_table")

    try:
        with pytest.raises(DBAPIError):
            await pool.run(broken)
        assert await pool.run(backend_pid) > 0
    finally:
        await pool.close()


async def test_at_most_size_connections_under_many_concurrent_reads(engine: AsyncEngine) -> None:
    read = session_read_for(url_of(engine), engine, readers=3)
    seen: set[int] = set()

    async def note(connection: PgConnection) -> None:
        seen.add(await backend_pid(connection))

    assert isinstance(read, PgSessionRead)
    try:
        await asyncio.gather(*(read.pool.run(note) for _ in range(50)))
        await asyncio.gather(*(read.load(f"s{i}", 4) for i in range(50)))
        await asyncio.gather(*(read.pool.run(note) for _ in range(50)))
        assert 1 <= len(seen) <= 3
    finally:
        await read.close()


async def test_no_named_statements_when_the_url_turns_them_off(engine: AsyncEngine) -> None:
    """Behind pgbouncer in transaction mode a named prepared statement can land on another
    server connection: `prepared_statement_cache_size=0` in the URL must keep the raw paths
    unnamed too, while the default keeps them prepared once."""
    unnamed = server_engine(create_engine(f"{url_of(engine)}?prepared_statement_cache_size=0"))
    try:
        for source, expected_named in ((engine, True), (unnamed, False)):
            pool = RawPool.for_engine(source, size=1)
            try:

                async def prepared_after_a_read(connection: PgConnection) -> int:
                    await connection.fetch("SELECT count(*) FROM conversations")
                    rows = await connection.raw.fetch("SELECT count(*) FROM pg_prepared_statements")
                    return int(rows[0][0])

                named = await pool.run(prepared_after_a_read) > 0
                assert named is expected_named
            finally:
                await pool.close()
    finally:
        await unnamed.dispose()
