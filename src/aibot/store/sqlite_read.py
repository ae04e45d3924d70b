"""A SQLite file's reads with plain sqlite3: the per-message conversation read, the background
polls and the readiness ping.

The conversation read runs on the event loop itself (issue 20): through SQLAlchemy's asyncio
layer and aiosqlite one `SELECT` was five thread hand-offs (cursor, execute, fetchall, close,
rollback), each waiting for the busy event loop to give up the GIL, and the pool opened and
closed overflow connections under load (a mean 55 ms, p99 240 ms wait for a read that takes
microseconds); the engine's read is still two hand-offs (the statement, then the connection's
return). Under WAL a reader does not wait for the writer, and the two indexed statements take
tens of microseconds, less than handing them to a thread costs.

The polls (`QueuePolls`, `ScheduleReads`, `KeyReads`: the outbox every 2 s, the inbox rescan
every 5 s, the scheduler's tick every second, the API keys' refresh) read a page of rows, so
they run on this reader's own thread, off the loop, with plain sqlite3 too: the engine's read
added a pool checkout and a rollback per poll, and a gateway on a SQLite file starts and serves
without SQLAlchemy (the start's inbox rescan and key refresh read here; cold start).

The promise this keeps: a session's writes are committed before its next message starts (the
service awaits them in the session's lane), and under WAL a read that starts after a commit
sees it; each read here is its own transaction (autocommit), so it never sees an older
snapshot.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import orjson

from aibot.store.poll_sql import (
    BACKLOG_SQL,
    DUE_TASKS_SQL,
    JOB_STATES_SQL,
    POLL_OUTBOX_SQL,
    SQLITE_POLL_INBOX_SQL,
    UNREVOKED_KEYS_SQL,
    sqlite,
)
from aibot.store.rows import Raw, RawSession
from aibot.store.sqlite_file import named_rows

T = TypeVar("T")

# The same columns, in the same order, as store/session_read.py's engine read.
_CONVERSATION_SQL = (
    "SELECT model, context_from, updated_at FROM conversations WHERE session_key = ?"
)
_TURNS_SQL = (
    "SELECT role, content, created_at, reasoning, provider, model, request_id, route, tool_data"
    " FROM turns WHERE session_key = ? AND created_at > ? ORDER BY created_at DESC, id DESC LIMIT ?"
)
_POLL_OUTBOX_SQL = sqlite(POLL_OUTBOX_SQL)
_DUE_TASKS_SQL = sqlite(DUE_TASKS_SQL)


class SqliteSessionRead:
    """Reads with connections of its own. The conversation read runs on the loop with one that
    never waits for a lock (`busy_timeout` 0); in the rare case SQLite answers "busy" to a
    reader (the WAL being reset or recovered) it is retried on a dedicated thread with a second
    connection that waits up to 10 s, so the loop never blocks on a lock. The polls run on that
    thread. `close` ends both."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="store-reader")
        self._loop_db: sqlite3.Connection | None = None
        self._thread_db: sqlite3.Connection | None = None

    async def load(self, session_key: str, keep: int) -> RawSession:
        try:
            return _load(self._on_loop(), session_key, keep)
        except sqlite3.OperationalError:  # busy: wait for it off the loop
            return await self._off_loop(_load, session_key, keep)

    async def pending_inbox(
        self, limit: int, exclude_channels: frozenset[str]
    ) -> list[Mapping[Any, Any]]:
        paused = orjson.dumps(sorted(exclude_channels)).decode()
        return await self._off_loop(_rows, SQLITE_POLL_INBOX_SQL, (limit, paused))

    async def pending_outbox(self, limit: int) -> list[Mapping[Any, Any]]:
        return await self._off_loop(_rows, _POLL_OUTBOX_SQL, (limit,))

    async def inbox_backlog(self) -> tuple[int, float | None]:
        (found,) = await self._off_loop(_rows, BACKLOG_SQL, ())
        count, oldest = found.values()
        return int(count), oldest

    async def due_tasks(self, now: float, limit: int) -> list[Mapping[Any, Any]]:
        return await self._off_loop(_rows, _DUE_TASKS_SQL, (now, limit))

    async def job_states(self) -> list[Mapping[Any, Any]]:
        return await self._off_loop(_rows, JOB_STATES_SQL, ())

    async def unrevoked_keys(self) -> list[Mapping[Any, Any]]:
        return await self._off_loop(_rows, UNREVOKED_KEYS_SQL, ())

    async def ping(self) -> None:
        """A read of the file: what `/readyz` asks of the store."""
        await self._off_loop(_rows, "SELECT 1", ())

    async def close(self) -> None:
        if self._loop_db is not None:
            self._loop_db.close()
            self._loop_db = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close_thread_db)
        self._thread.shutdown(wait=True)

    def _on_loop(self) -> sqlite3.Connection:
        if self._loop_db is None:
            self._loop_db = self._connect(busy_ms=0)
        return self._loop_db

    async def _off_loop(self, read: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            if self._thread_db is None:
                self._thread_db = self._connect(busy_ms=10_000)
            return read(self._thread_db, *args)

        return await asyncio.get_running_loop().run_in_executor(self._thread, run)

    def _connect(self, busy_ms: int) -> sqlite3.Connection:
        # Autocommit: each SELECT is its own read transaction, so it sees every commit made
        # before it started. query_only: this connection can never write by mistake.
        db = sqlite3.connect(Path(self._path), isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        db.execute("PRAGMA query_only=ON")
        return db

    def _close_thread_db(self) -> None:
        if self._thread_db is not None:
            self._thread_db.close()
            self._thread_db = None


def _load(db: sqlite3.Connection, session_key: str, keep: int) -> RawSession:
    row: Raw | None = db.execute(_CONVERSATION_SQL, (session_key,)).fetchone()
    if row is None:
        return None, []
    return row, db.execute(_TURNS_SQL, (session_key, row[1], keep)).fetchall()


def _rows(db: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> list[Mapping[str, Any]]:
    """The rows by column name, as the polls' readers take them."""
    return named_rows(db.execute(sql, args))
