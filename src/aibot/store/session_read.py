"""The per-message conversation read: its row and recent turns, in one hop.

Every message that misses the session cache (every new conversation, every conversation pushed out
of the cache, every message in scale-out mode whose lock brought another stamp: see
core/sessions.py) reads its conversation. On a SQLite file the read runs with a plain `sqlite3`
connection, both statements in one call, on the event loop itself (store/sqlite_read.py).
PostgreSQL reads with asyncpg's own protocol, one statement on connections of its own
(store/pg_read.py); MySQL and an in-memory SQLite read through the engine, both statements on
one checked-out connection.

The promise this keeps: a session's writes are committed before its next message starts (the
service awaits them in the session's lane), and every read here starts after that commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from aibot.store.database import Database, SqliteEngine
from aibot.store.rows import RawSession
from aibot.store.sqlite_file import file_path
from aibot.store.sqlite_read import SqliteSessionRead

if TYPE_CHECKING:
    from sqlalchemy import Select

# A read holds its connection for one round trip, so a few serve the whole dispatcher; each
# replica's connections count against the server's `max_connections` (100 by default) beside
# the engine's pool of 10 + 10.
MAX_PG_READERS = 8


def turn_columns() -> Select[tuple[object, ...]]:
    """The turn columns every conversation read selects, in `TurnRecord`'s order (rows.Raw)."""
    from sqlalchemy import select

    from aibot.store.schema import turns

    return select(
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
    path = file_path(url)
    if path is not None:
        return SqliteSessionRead(str(path))
    if engine.name == "postgresql" and not isinstance(engine, SqliteEngine):
        from aibot.store.pg_read import PgSessionRead, RawPool

        return PgSessionRead(RawPool.for_engine(engine, min(readers, MAX_PG_READERS)))
    return EngineSessionRead(engine)


class EngineSessionRead:
    """The same reads through the async engine, both statements on one connection."""

    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def load(self, session_key: str, keep: int) -> RawSession:
        from sqlalchemy import and_, select

        from aibot.store.schema import conversations, turns

        conversation = select(
            conversations.c.model, conversations.c.context_from, conversations.c.updated_at
        )
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    conversation.where(conversations.c.session_key == session_key)
                )
            ).first()
            if row is None:
                return None, []
            found = await connection.execute(
                turn_columns()
                .where(and_(turns.c.session_key == session_key, turns.c.created_at > row[1]))
                .order_by(turns.c.created_at.desc(), turns.c.id.desc())
                .limit(keep)
            )
            return tuple(row), [tuple(r) for r in found]

    async def close(self) -> None:
        """Nothing of its own: the engine is disposed by its owner."""
