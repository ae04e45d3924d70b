"""The per-message conversation read: its row and recent turns, in one hop.

Every message that misses the session cache (every new conversation, every conversation pushed out
of the cache, every message in scale-out mode whose lock brought another stamp: see
core/sessions.py) reads its conversation. Through SQLAlchemy's asyncio layer and aiosqlite (the
SQLite engine before store/database.py) one `SELECT` was five thread hand-offs (cursor, execute,
fetchall, close, rollback), each waiting for the busy event loop to give up the GIL, and the pool
opened and closed overflow connections under load (issue 20: a mean 55 ms, p99 240 ms wait for a
read that takes microseconds); the engine's read is still two hand-offs (the statement, then the
connection's return). On SQLite the read therefore runs with a plain `sqlite3` connection, both
statements in one call, on the event loop itself (see `SqliteSessionRead`). PostgreSQL reads with
asyncpg's own protocol, one statement on connections of its own (store/pg_read.py); MySQL reads
through the async engine, both statements on one checked-out connection.

The promise this keeps: a session's writes are committed before its next message starts (the
service awaits them in the session's lane), and under WAL a read that starts after a commit
sees it; each read here is its own transaction (autocommit), so it never sees an older
snapshot.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import and_, make_url, select

from aibot.store.database import Database, SqliteEngine
from aibot.store.rows import Raw, RawSession
from aibot.store.schema import conversations, turns

T = TypeVar("T")
# A read holds its connection for one round trip, so a few serve the whole dispatcher; each
# replica's connections count against the server's `max_connections` (100 by default) beside
# the engine's pool of 10 + 10.
MAX_PG_READERS = 8

# The same columns, in the same order, as the SQLAlchemy statements below.
_CONVERSATION_SQL = (
    "SELECT model, context_from, updated_at FROM conversations WHERE session_key = ?"
)
_TURNS_SQL = (
    "SELECT role, content, created_at, reasoning, provider, model, request_id, route, tool_data"
    " FROM turns WHERE session_key = ? AND created_at > ? ORDER BY created_at DESC, id DESC LIMIT ?"
)
_CONVERSATION = select(
    conversations.c.model, conversations.c.context_from, conversations.c.updated_at
)
TURN_COLUMNS = select(
    turns.c.role,
    turns.c.content,
    turns.c.created_at,
    turns.c.reasoning,
    turns.c.provider,
    turns.c.model,
    turns.c.request_id,
    turns.c.route,
    turns.c.tool_data,
)


class SessionRead(Protocol):
    async def load(self, session_key: str, keep: int) -> RawSession: ...

    async def close(self) -> None: ...


def session_read_for(url: str, engine: Database, readers: int = 8) -> SessionRead:
    """The one-hop SQLite read for a database file, asyncpg's own protocol on PostgreSQL
    (on at most `readers` connections of its own: store/pg_read.py), the engine's read for
    anything else."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return SqliteSessionRead(str(Path(parsed.database).expanduser()))
    if backend == "postgresql" and not isinstance(engine, SqliteEngine):
        from aibot.store.pg_read import PgSessionRead, RawPool

        return PgSessionRead(RawPool.for_engine(engine, min(readers, MAX_PG_READERS)))
    return EngineSessionRead(engine)


class SqliteSessionRead:
    """Reads on the event loop with a connection of its own that never waits for a lock
    (`busy_timeout` 0): under WAL a reader does not wait for the writer, and the two indexed
    statements take tens of microseconds, less than handing them to a thread costs (the
    hand-off itself was 8 % of the GIL time of a new conversation, issue 20). In the rare case
    SQLite answers "busy" to a reader (the WAL being reset or recovered) the read is retried on
    a dedicated thread with a second connection that waits up to 10 s, so the loop never
    blocks on a lock. `close` ends both."""

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
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
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


class EngineSessionRead:
    """The same reads through the async engine, both statements on one connection."""

    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def load(self, session_key: str, keep: int) -> RawSession:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    _CONVERSATION.where(conversations.c.session_key == session_key)
                )
            ).first()
            if row is None:
                return None, []
            found = await connection.execute(
                TURN_COLUMNS.where(
                    and_(turns.c.session_key == session_key, turns.c.created_at > row[1])
                )
                .order_by(turns.c.created_at.desc(), turns.c.id.desc())
                .limit(keep)
            )
            return tuple(row), [tuple(r) for r in found]

    async def close(self) -> None:
        """Nothing of its own: the engine is disposed by its owner."""
