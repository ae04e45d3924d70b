"""What /graphql reads from the store: conversations and turns a page at a time after a keyset
position (so a page costs the same wherever it is), token usage and ratings per provider.
admin/graphql_data.py turns positions into the cursors clients see and checks those that
come back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select

from aibot.store.crypto import Cipher
from aibot.store.database import Database
from aibot.store.records import ConversationSummary
from aibot.store.schema import conversations, ratings, turns


@dataclass(frozen=True)
class PagedTurn:
    id: int
    role: str
    content: str
    provider: str | None
    model: str | None
    created_at: float


@dataclass(frozen=True)
class UsageRow:
    provider: str
    answers: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class RatingRow:
    provider: str
    good: int
    bad: int


async def conversations_after(
    engine: Database, limit: int, after: tuple[float, str] | None, channel: str | None
) -> list[ConversationSummary]:
    """Newest first (then by key, descending), from after the position `(updated_at,
    session_key)`; only `channel`'s when given."""
    statement = select(conversations).order_by(
        conversations.c.updated_at.desc(), conversations.c.session_key.desc()
    )
    if channel:
        statement = statement.where(conversations.c.channel == channel)
    if after:
        at, key = after
        statement = statement.where(
            or_(
                conversations.c.updated_at < at,
                and_(conversations.c.updated_at == at, conversations.c.session_key < key),
            )
        )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement.limit(limit))).all()
    return [ConversationSummary(r.session_key, r.channel, r.user_id, r.updated_at) for r in rows]


async def conversation(engine: Database, session_key: str) -> ConversationSummary | None:
    if "\x00" in session_key:  # no stored key has one, and PostgreSQL refuses it
        return None
    statement = select(conversations).where(conversations.c.session_key == session_key)
    async with engine.connect() as connection:
        r = (await connection.execute(statement)).first()
    return (
        None
        if r is None
        else ConversationSummary(r.session_key, r.channel, r.user_id, r.updated_at)
    )


async def turns_after(
    engine: Database, cipher: Cipher, session_key: str, limit: int, after: int | None
) -> list[PagedTurn]:
    """The conversation's stored turns oldest first, from after the turn of id `after`
    (archived turns are read in the console)."""
    statement = (
        select(
            turns.c.id,
            turns.c.role,
            turns.c.content,
            turns.c.provider,
            turns.c.model,
            turns.c.created_at,
        )
        .where(turns.c.session_key == session_key)
        .order_by(turns.c.id)
    )
    if after is not None:
        statement = statement.where(turns.c.id > after)
    async with engine.connect() as connection:
        rows = (await connection.execute(statement.limit(limit))).all()
    return [
        PagedTurn(r.id, r.role, cipher.open(r.content), r.provider, r.model, r.created_at)
        for r in rows
    ]


async def usage_since(engine: Database, since: float) -> list[UsageRow]:
    statement = (
        select(
            func.coalesce(turns.c.provider, ""),
            func.count(),
            func.coalesce(func.sum(turns.c.prompt_tokens), 0),
            func.coalesce(func.sum(turns.c.completion_tokens), 0),
        )
        .where(and_(turns.c.role == "assistant", turns.c.created_at >= since))
        .group_by(turns.c.provider)
    )
    rows = await _per_provider(engine, statement)
    return [UsageRow(p, *counts) for p, *counts in rows]


async def ratings_since(engine: Database, since: float) -> list[RatingRow]:
    statement = (
        select(
            func.coalesce(ratings.c.provider, ""),
            func.coalesce(func.sum(case((ratings.c.score > 0, 1), else_=0)), 0),
            func.coalesce(func.sum(case((ratings.c.score < 0, 1), else_=0)), 0),
        )
        .where(ratings.c.updated_at >= since)
        .group_by(ratings.c.provider)
    )
    rows = await _per_provider(engine, statement)
    return [RatingRow(p, *counts) for p, *counts in rows]


async def _per_provider(engine: Database, statement: Select[Any]) -> list[list[Any]]:
    """Rows of (provider, counts…) sorted by provider, the counts as ints."""
    async with engine.connect() as connection:
        rows = (await connection.execute(statement)).all()
    return sorted([str(r[0]), *map(int, r[1:])] for r in rows)
