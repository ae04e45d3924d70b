"""The one-hop conversation read on SQLite (store/session_read.py): the same answer as the
engine's read, and every commit visible to the next read at once (the promise that a
session's writes are committed before its next message starts, and then seen)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aibot.core.messages import ToolCall, TurnRecord
from aibot.core.sessions import SessionMemory
from aibot.store.database import Database
from aibot.store.engine import create_engine, migrate
from aibot.store.repository import Repository
from aibot.store.session_read import session_read_for
from aibot.store.sqlite_read import SqliteSessionRead
from tests.support.databases import url_of, writer_for


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Database]:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    await migrate(engine)
    yield engine
    await engine.dispose()


def test_a_sqlite_file_gets_the_one_hop_read(engine: Database) -> None:
    assert isinstance(session_read_for(url_of(engine), engine), SqliteSessionRead)
    assert not isinstance(session_read_for("sqlite:///:memory:", engine), SqliteSessionRead)


async def test_it_reads_what_the_engine_reads(engine: Database) -> None:
    fast = Repository(engine, session_read=session_read_for(url_of(engine), engine))
    slow, writer = Repository(engine), writer_for(engine)
    writer.start()
    records = [
        TurnRecord("user" if i % 2 == 0 else "assistant", f"回合 {i} 🙂", float(i + 1))
        for i in range(10)
    ]
    records[-2:] = [
        TurnRecord("assistant", "", 9.0, tool_calls=(ToolCall("c1", "clock", "{}"),)),
        TurnRecord("tool", "12:00", 10.0, tool_call_id="c1", name="clock"),
    ]
    await writer.submit(fast.save_conversation("s", "api", "u", 1.0), *fast.add_turns("s", records))
    await writer.submit(fast.save_conversation("s", "api", "u", 2.0, context_from=4.0, model="m"))
    await writer.stop()
    try:
        for keep in (1, 4, 100):
            assert await fast.load_session("s", keep) == await slow.load_session("s", keep)
        row, turns = await fast.load_session("s", 4)
        assert row is not None and (row.model, row.context_from, row.updated_at) == ("m", 4.0, 2.0)
        assert [t.content for t in turns] == ["回合 6 🙂", "回合 7 🙂", "", "12:00"]
        assert turns[2].tool_calls == (ToolCall("c1", "clock", "{}"),)
        assert (turns[3].tool_call_id, turns[3].name) == ("c1", "clock")
        assert await fast.load_session("nobody", 4) == (None, [])
    finally:
        await fast.close()


async def test_every_commit_is_seen_by_the_next_read(engine: Database) -> None:
    """Memory with no cache reads the store for every message, as for a new conversation:
    each message's turns, committed through the gateway's writer thread, must be in the
    very next read made on the reader's own thread and connection."""
    repo = Repository(engine, session_read=session_read_for(url_of(engine), engine))
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


async def test_a_busy_database_is_read_off_the_loop(engine: Database, tmp_path: Path) -> None:
    """Another process holding the file exclusively makes SQLite answer "busy" even to a WAL
    reader: the read must then wait on its thread, with the event loop free meanwhile."""
    repo = Repository(engine, session_read=session_read_for(url_of(engine), engine))
    writer = writer_for(engine)
    writer.start()
    await writer.submit(repo.save_conversation("s", "api", "u", 1.0))
    await writer.stop()
    await engine.dispose()  # the holder must be alone with the file to take it exclusively
    holder = sqlite3.connect(tmp_path / "store.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    asyncio.get_running_loop().call_later(0.5, holder.close)
    try:
        row, _ = await repo.load_session("s", 4)
    finally:
        ticker.cancel()
        await repo.close()
    assert row is not None and row.updated_at == 1.0
    assert ticks >= 20  # the loop ran while the read waited for the lock
