"""What /graphql reads in the store (store/graphql_reads.py) on SQLite, PostgreSQL and MariaDB:
keyset pages of conversations (ties on the time broken by key) and of turns, and the counts
per provider."""

from __future__ import annotations

from typing import Any

from aibot.store import graphql_reads
from aibot.store.crypto import Keyring, new_key, parse_key
from aibot.store.database import Database
from aibot.store.graphql_reads import RatingRow, UsageRow
from aibot.store.schema import conversations, ratings, turns


async def insert(engine: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as connection:
        await connection.execute(table.insert(), rows)


async def test_conversation_pages_follow_the_keyset(sql_engine: Database) -> None:
    rows = [("web:a", "web", 20.0), ("web:b", "web", 20.0), ("tg:c", "telegram", 30.0)]
    await insert(
        sql_engine,
        conversations,
        [
            {"session_key": k, "channel": c, "user_id": "u", "created_at": 1.0, "updated_at": at}
            for k, c, at in rows
        ],
    )
    first = await graphql_reads.conversations_after(sql_engine, 2, None, None)
    assert [c.session_key for c in first] == ["tg:c", "web:b"]
    rest = await graphql_reads.conversations_after(sql_engine, 2, (20.0, "web:b"), None)
    assert [c.session_key for c in rest] == ["web:a"]
    web = await graphql_reads.conversations_after(sql_engine, 5, None, "web")
    assert [c.session_key for c in web] == ["web:b", "web:a"]
    assert await graphql_reads.conversation(sql_engine, "tg:c") == first[0]
    assert await graphql_reads.conversation(sql_engine, "tg:\x00") is None


async def test_turn_pages_are_opened_and_follow_the_id(sql_engine: Database) -> None:
    keyring = Keyring(parse_key(new_key(), "test"))
    await insert(
        sql_engine,
        turns,
        [
            {"session_key": key, "role": role, "content": keyring.seal(text), "created_at": at}
            | {"provider": "p" if role == "assistant" else None, "model": None}
            for key, role, text, at in [
                ("web:t", "user", "问", 1.0),
                ("web:other", "user", "别人", 1.5),
                ("web:t", "assistant", "答", 2.0),
                ("web:t", "user", "再问", 3.0),
            ]
        ],
    )
    page = await graphql_reads.turns_after(sql_engine, keyring, "web:t", 2, None)
    assert [(t.role, t.content, t.provider) for t in page] == [
        ("user", "问", None),
        ("assistant", "答", "p"),
    ]
    rest = await graphql_reads.turns_after(sql_engine, keyring, "web:t", 2, page[-1].id)
    assert [t.content for t in rest] == ["再问"]


async def test_usage_and_ratings_per_provider_since(sql_engine: Database) -> None:
    await insert(
        sql_engine,
        turns,
        [
            {"session_key": "s", "role": role, "content": "x", "provider": provider}
            | {"prompt_tokens": prompt, "completion_tokens": completion, "created_at": at}
            for role, provider, prompt, completion, at in [
                ("assistant", "b", 3, 4, 10.0),
                ("assistant", "b", 1, 1, 11.0),
                ("assistant", None, 0, 0, 12.0),
                ("assistant", "a", 9, 9, 1.0),
                ("user", None, 9, 9, 10.0),
            ]
        ],
    )
    assert await graphql_reads.usage_since(sql_engine, 5.0) == [
        UsageRow("", 1, 0, 0),
        UsageRow("b", 2, 4, 5),
    ]
    await insert(
        sql_engine,
        ratings,
        [
            {"request_id": request, "user_id": "u", "channel": "web", "session_key": "s"}
            | {"score": score, "provider": provider, "created_at": 1.0, "updated_at": at}
            for request, score, provider, at in [
                ("r1", 1, "b", 10.0),
                ("r2", -1, "b", 10.0),
                ("r3", 1, "b", 10.0),
                ("r4", 1, "a", 1.0),
            ]
        ],
    )
    assert await graphql_reads.ratings_since(sql_engine, 5.0) == [RatingRow("b", 2, 1)]
