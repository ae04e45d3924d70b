"""What /graphql reads from the store: pages of conversations and turns (keyset cursors, so a
page costs the same wherever it is), token usage and ratings per provider.

A cursor is opaque to clients (base64 of the sort key) and checked when it comes back: a
forged one is a bad request, never a different query.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select

from aibot.store.crypto import Cipher
from aibot.store.database import Database
from aibot.store.schema import conversations, ratings, turns

MAX_PAGE = 100


class BadCursor(ValueError):
    """A cursor this server did not hand out."""


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("\x1f".join(map(str, parts)).encode()).decode()


def decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("\x1f")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor("invalid cursor") from None
    if len(parts) != count:
        raise BadCursor("invalid cursor")
    return parts


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise ValueError(f"first must be between 1 and {MAX_PAGE}")
    return first


@dataclass(frozen=True)
class ConversationRow:
    session_key: str
    channel: str
    user_id: str
    updated_at: float
    cursor: str


@dataclass(frozen=True)
class TurnRow:
    id: int
    role: str
    content: str
    provider: str | None
    model: str | None
    created_at: float
    cursor: str


async def conversation_page(
    engine: Database, first: int, after: str | None, channel: str | None
) -> tuple[list[ConversationRow], bool]:
    """Newest first; one row more than asked tells whether another page follows."""
    statement = select(conversations).order_by(
        conversations.c.updated_at.desc(), conversations.c.session_key.desc()
    )
    if channel:
        statement = statement.where(conversations.c.channel == channel)
    if after:
        updated, key = decode_cursor(after, 2)
        try:
            at = float(updated)
        except ValueError:
            raise BadCursor("invalid cursor") from None
        statement = statement.where(
            or_(
                conversations.c.updated_at < at,
                and_(conversations.c.updated_at == at, conversations.c.session_key < key),
            )
        )
    async with engine.connect() as connection:
        rows = (await connection.execute(statement.limit(page_size(first) + 1))).all()
    found = [
        ConversationRow(
            r.session_key,
            r.channel,
            r.user_id,
            r.updated_at,
            encode_cursor(repr(r.updated_at), r.session_key),
        )
        for r in rows[:first]
    ]
    return found, len(rows) > first


async def conversation_by_key(engine: Database, session_key: str) -> ConversationRow | None:
    if "\x00" in session_key:  # no stored key has one, and PostgreSQL refuses it
        return None
    statement = select(conversations).where(conversations.c.session_key == session_key)
    async with engine.connect() as connection:
        r = (await connection.execute(statement)).first()
    if r is None:
        return None
    cursor = encode_cursor(repr(r.updated_at), r.session_key)
    return ConversationRow(r.session_key, r.channel, r.user_id, r.updated_at, cursor)


async def turn_page(
    engine: Database, cipher: Cipher, session_key: str, first: int, after: str | None
) -> tuple[list[TurnRow], bool]:
    """Oldest first, from the database (archived turns are read in the console)."""
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
    if after:
        (last,) = decode_cursor(after, 1)
        if not last.isdigit():
            raise BadCursor("invalid cursor")
        statement = statement.where(turns.c.id > int(last))
    async with engine.connect() as connection:
        rows = (await connection.execute(statement.limit(page_size(first) + 1))).all()
    found = [
        TurnRow(
            r.id,
            r.role,
            cipher.open(r.content),
            r.provider,
            r.model,
            r.created_at,
            encode_cursor(r.id),
        )
        for r in rows[:first]
    ]
    return found, len(rows) > first


@dataclass(frozen=True)
class UsageRow:
    provider: str
    answers: int
    prompt_tokens: int
    completion_tokens: int


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


@dataclass(frozen=True)
class RatingRow:
    provider: str
    good: int
    bad: int


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
