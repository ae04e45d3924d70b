"""The pages /graphql reads from the store (store/graphql_reads.py): conversations and turns
with keyset cursors, so a page costs the same wherever it is.

A cursor is opaque to clients (base64 of the sort key) and checked when it comes back: a
forged one is a bad request, never a different query. A refused argument is raised with a
Phrase, so the schema says it in the caller's language and a log line reads English.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from aibot.i18n import N_, Phrase
from aibot.store import graphql_reads
from aibot.store.crypto import Cipher
from aibot.store.database import Database
from aibot.store.graphql_reads import PagedTurn
from aibot.store.records import ConversationSummary

MAX_PAGE = 100
INVALID_CURSOR = Phrase(N_("invalid cursor"))


class BadCursor(ValueError):
    """A cursor this server did not hand out."""


def encode_cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode("\x1f".join(map(str, parts)).encode()).decode()


def decode_cursor(cursor: str, count: int) -> list[str]:
    try:
        parts = base64.urlsafe_b64decode(cursor.encode()).decode().split("\x1f")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadCursor(INVALID_CURSOR) from None
    if len(parts) != count:
        raise BadCursor(INVALID_CURSOR)
    return parts


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise ValueError(Phrase(N_("first must be between 1 and {limit}"), {"limit": MAX_PAGE}))
    return first


@dataclass(frozen=True)
class ConversationRow(ConversationSummary):
    cursor: str

    @classmethod
    def of(cls, found: ConversationSummary) -> ConversationRow:
        cursor = encode_cursor(repr(found.updated_at), found.session_key)
        return cls(found.session_key, found.channel, found.user_id, found.updated_at, cursor)


@dataclass(frozen=True)
class TurnRow(PagedTurn):
    cursor: str


async def conversation_page(
    engine: Database, first: int, after: str | None, channel: str | None
) -> tuple[list[ConversationRow], bool]:
    """Newest first; one row more than asked tells whether another page follows."""
    position = None
    if after:
        updated, key = decode_cursor(after, 2)
        try:
            position = (float(updated), key)
        except ValueError:
            raise BadCursor(INVALID_CURSOR) from None
    rows = await graphql_reads.conversations_after(engine, page_size(first) + 1, position, channel)
    return [ConversationRow.of(r) for r in rows[:first]], len(rows) > first


async def conversation_by_key(engine: Database, session_key: str) -> ConversationRow | None:
    found = await graphql_reads.conversation(engine, session_key)
    return None if found is None else ConversationRow.of(found)


async def turn_page(
    engine: Database, cipher: Cipher, session_key: str, first: int, after: str | None
) -> tuple[list[TurnRow], bool]:
    """Oldest first, from the database (archived turns are read in the console)."""
    last = None
    if after:
        (text,) = decode_cursor(after, 1)
        if not text.isdigit():
            raise BadCursor(INVALID_CURSOR)
        last = int(text)
    rows = await graphql_reads.turns_after(engine, cipher, session_key, page_size(first) + 1, last)
    found = [
        TurnRow(r.id, r.role, r.content, r.provider, r.model, r.created_at, encode_cursor(r.id))
        for r in rows[:first]
    ]
    return found, len(rows) > first
