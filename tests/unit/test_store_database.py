"""The SQLite store's engine (store/database.py): SQLAlchemy core's synchronous engine behind
worker threads, with the transaction semantics the store's code relies on from the asyncio API."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from aibot.store.database import STREAM_CHUNK, SqliteEngine
from aibot.store.engine import SQLITE_OVERFLOW, SQLITE_POOL, create_engine


def slow(x: Any) -> Any:
    """x after 50 ms: a statement still running when its task is cancelled."""
    time.sleep(0.05)
    return x


def add_slow(db: Any, _record: Any) -> None:
    db.create_function("slow", 1, slow)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[SqliteEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'store.db'}")
    assert isinstance(engine, SqliteEngine)
    event.listen(engine.sync_engine, "connect", add_slow)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine
    await engine.dispose()


async def count(engine: SqliteEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT count(*) FROM t")) or 0)


async def test_statements_run_off_the_loop_and_rows_are_read_there(
    engine: SqliteEngine,
) -> None:
    threads: list[int] = []
    record = lambda *_: threads.append(threading.get_ident())  # noqa: E731
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t VALUES (1), (2), (3)"))
    async with engine.connect() as connection:
        result = await connection.execute(text("SELECT x FROM t ORDER BY x"))
    # The connection is back in the pool: the rows were fetched on the worker thread.
    assert [row.x for row in result] == [1, 2, 3]
    assert threads and threading.get_ident() not in threads


async def test_connect_rolls_back_what_it_did_not_commit_and_begin_commits(
    engine: SqliteEngine,
) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("INSERT INTO t VALUES (1)"))
    assert await count(engine) == 0
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t VALUES (1)"))
    assert await count(engine) == 1
    with pytest.raises(ZeroDivisionError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (2)"))
            _ = 1 / 0
    assert await count(engine) == 1


async def test_cancelled_statements_give_their_connections_back(engine: SqliteEngine) -> None:
    async def slow_insert() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (slow(1))"))

    tasks = [asyncio.create_task(slow_insert()) for _ in range(SQLITE_POOL + SQLITE_OVERFLOW)]
    await asyncio.sleep(0.02)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.5)  # the statements still running finish, then their rollback
    assert engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    # Every connection (and every slot) is usable again, and nothing cancelled was committed.
    many = SQLITE_POOL + SQLITE_OVERFLOW + 5
    await asyncio.gather(*(count(engine) for _ in range(many)))
    assert await count(engine) <= len(tasks)


async def test_more_callers_than_connections_wait_their_turn(engine: SqliteEngine) -> None:
    async def insert(n: int) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO t VALUES (slow(:n))"), {"n": n})

    await asyncio.wait_for(asyncio.gather(*(insert(n) for n in range(40))), 60)
    assert await count(engine) == 40


async def test_stream_reads_every_row_in_chunks(engine: SqliteEngine) -> None:
    rows = STREAM_CHUNK * 2 + 5
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO t VALUES (:x)"), [{"x": n} for n in range(rows)])
    seen: list[Any] = []
    async with engine.connect() as connection:
        async for row in await connection.stream(text("SELECT x FROM t ORDER BY x")):
            seen.append(row.x)
    assert seen == list(range(rows))


async def test_run_sync_and_an_in_memory_database(tmp_path: Path) -> None:
    memory = create_engine("sqlite:///:memory:")
    try:
        async with memory.begin() as connection:
            await connection.run_sync(lambda c: c.execute(text("CREATE TABLE m (x INTEGER)")))
            await connection.execute(text("INSERT INTO m VALUES (7)"))
        async with memory.connect() as connection:  # the same database: one connection
            assert await connection.scalar(text("SELECT x FROM m")) == 7
    finally:
        await memory.dispose()
