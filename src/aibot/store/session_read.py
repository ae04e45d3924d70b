"""The per-message conversation read: its row and recent turns, in one hop.

Every message that misses the session cache (every new conversation, every conversation pushed
out of the cache, every message in scale-out mode) reads its conversation. Through SQLAlchemy's
asyncio layer and aiosqlite one `SELECT` is five thread hand-offs (cursor, execute, fetchall,
close, rollback), each waiting for the busy event loop to give up the GIL, and the pool opened
and closed overflow connections under load (issue 20: a mean 55 ms, p99 240 ms wait for a read
that takes microseconds). On SQLite the read therefore runs on its own thread with a plain
`sqlite3` connection, both statements in one call: one hop. PostgreSQL and MySQL read through
the async engine, both statements on one checked-out connection.

The promise this keeps: a session's writes are committed before its next message starts (the
service awaits them in the session's lane), and under WAL a read that starts after a commit
sees it; each read here is its own transaction (autocommit), so it never sees an older
snapshot.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import and_, make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.store.schema import conversations, turns

Raw = tuple[Any, ...]
RawSession = tuple[Raw | None, list[Raw]]  # (model, context_from, updated_at), turns newest first

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

    async def stamp(self, session_key: str) -> Raw | None: ...

    async def close(self) -> None: ...


def session_read_for(url: str, engine: AsyncEngine) -> SessionRead:
    """The one-hop SQLite read for a database file, the engine's read for anything else."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return SqliteSessionRead(str(Path(parsed.database).expanduser()))
    return EngineSessionRead(engine)


class SqliteSessionRead:
    """Reads on one dedicated thread with its own connection (WAL lets it run beside the
    group-commit writer's thread); `close` ends both."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="store-reader")
        self._connection: sqlite3.Connection | None = None

    async def load(self, session_key: str, keep: int) -> RawSession:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._load, session_key, keep)

    async def stamp(self, session_key: str) -> Raw | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._stamp, session_key)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit: each SELECT is its own read transaction, so it sees every commit made
            # before it started. query_only: this connection can never write by mistake.
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("PRAGMA query_only=ON")
            self._connection = db
        return self._connection

    def _stamp(self, session_key: str) -> Raw | None:
        row: Raw | None = self._db().execute(_CONVERSATION_SQL, (session_key,)).fetchone()
        return row

    def _load(self, session_key: str, keep: int) -> RawSession:
        db = self._db()
        row: Raw | None = db.execute(_CONVERSATION_SQL, (session_key,)).fetchone()
        if row is None:
            return None, []
        return row, db.execute(_TURNS_SQL, (session_key, row[1], keep)).fetchall()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class EngineSessionRead:
    """The same reads through the async engine, both statements on one connection."""

    def __init__(self, engine: AsyncEngine) -> None:
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

    async def stamp(self, session_key: str) -> Raw | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    _CONVERSATION.where(conversations.c.session_key == session_key)
                )
            ).first()
        return tuple(row) if row else None

    async def close(self) -> None:
        """Nothing of its own: the engine is disposed by its owner."""
