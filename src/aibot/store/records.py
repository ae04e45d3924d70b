"""The console's reads of the gateway's own tables: conversations, turns and dead letters.

With encryption at rest the database cannot match text inside sealed turns, so a text search
opens the newest `SEALED_SEARCH_TURNS` turns here instead (session keys and user ids are not
sealed and are searched in SQL as before). Callers clean what people typed first; this module
only refuses what no stored key holds (a NUL, which PostgreSQL would reject)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update

from aibot.store.crypto import PLAIN, Cipher
from aibot.store.database import Database
from aibot.store.schema import conversations, outbox, turns

DEAD_STATES = ("dead", "expired")
SEALED_SEARCH_TURNS = 20_000


@dataclass(frozen=True)
class ConversationSummary:
    session_key: str
    channel: str
    user_id: str
    updated_at: float


@dataclass(frozen=True)
class Turn:
    role: str
    content: str
    provider: str | None
    created_at: float


@dataclass(frozen=True)
class DeadLetter:
    id: int
    channel: str
    session_key: str
    text: str
    status: str
    attempts: int
    last_error: str | None
    updated_at: float


async def search_conversations(
    engine: Database, query: str, limit: int = 50, cipher: Cipher = PLAIN
) -> list[ConversationSummary]:
    """Newest first; a non-empty `query` matches the session key, the user id or any turn's
    text."""
    statement = select(conversations).order_by(conversations.c.updated_at.desc()).limit(limit)
    if query:
        in_text: Any = (
            select(turns.c.session_key).where(turns.c.content.contains(query, autoescape=True))
            if cipher is PLAIN
            else await _sessions_mentioning(engine, query, cipher)
        )
        statement = statement.where(
            or_(
                conversations.c.session_key.contains(query, autoescape=True),
                conversations.c.user_id.contains(query, autoescape=True),
                conversations.c.session_key.in_(in_text),
            )
        )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return [ConversationSummary(r.session_key, r.channel, r.user_id, r.updated_at) for r in rows]


async def _sessions_mentioning(engine: Database, query: str, cipher: Cipher) -> list[str]:
    statement = (
        select(turns.c.session_key, turns.c.content)
        .order_by(turns.c.id.desc())
        .limit(SEALED_SEARCH_TURNS)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return list({r.session_key: None for r in rows if query in cipher.open(r.content)})


async def stored_turns(
    engine: Database, session_key: str, limit: int, cipher: Cipher = PLAIN
) -> list[Turn]:
    """The conversation's turns still in the database, oldest first."""
    if "\x00" in session_key:  # no stored key has one, and PostgreSQL refuses it
        return []
    statement = (
        select(turns.c.role, turns.c.content, turns.c.provider, turns.c.created_at)
        .where(turns.c.session_key == session_key)
        .order_by(turns.c.created_at, turns.c.id)
        .limit(limit)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return [Turn(r.role, cipher.open(r.content), r.provider, r.created_at) for r in rows]


async def dead_letters(
    engine: Database, limit: int = 200, cipher: Cipher = PLAIN
) -> list[DeadLetter]:
    statement = (
        select(outbox)
        .where(outbox.c.status.in_(DEAD_STATES))
        .order_by(outbox.c.id.desc())
        .limit(limit)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return [
        DeadLetter(
            r.id,
            r.channel,
            r.session_key,
            cipher.open(r.text),
            r.status,
            r.attempts,
            r.last_error,
            r.updated_at,
        )
        for r in rows
    ]


async def retry_dead_letter(engine: Database, row_id: int, now: float) -> bool:
    """Puts a dead or expired reply back in the queue as if it were new: attempts start
    again and its age restarts, else `outbox.max_age` would expire it straight away."""
    statement = (
        update(outbox)
        .where(outbox.c.id == row_id)
        .where(outbox.c.status.in_(DEAD_STATES))
        .values(status="pending", attempts=0, next_attempt_at=now, created_at=now, updated_at=now)
    )
    async with engine.begin() as connection:
        result = await connection.execute(statement)
    return bool(result.rowcount)
