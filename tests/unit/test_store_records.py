"""The console's reads in the store (store/records.py) on SQLite, PostgreSQL and MariaDB:
conversation search (typed text matched literally, sealed turns opened to be searched), a
stored transcript in order, and dead letters listed and put back in the queue."""

from __future__ import annotations

from typing import Any

from aibot.store.crypto import Keyring, new_key, parse_key
from aibot.store.database import Database
from aibot.store.records import dead_letters, retry_dead_letter, search_conversations, stored_turns
from aibot.store.schema import conversations, outbox, turns


async def insert(engine: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as connection:
        await connection.execute(table.insert(), rows)


def conversation(key: str, user: str, updated_at: float) -> dict[str, Any]:
    return {
        "session_key": key,
        "channel": "web",
        "user_id": user,
        "created_at": 1.0,
        "updated_at": updated_at,
    }


def turn(key: str, content: str, created_at: float, role: str = "user") -> dict[str, Any]:
    return {
        "session_key": key,
        "role": role,
        "content": content,
        "provider": "deepseek" if role == "assistant" else None,
        "created_at": created_at,
    }


async def test_search_matches_key_user_or_text_literally_newest_first(
    sql_engine: Database,
) -> None:
    await insert(
        sql_engine,
        conversations,
        [
            conversation("web:a", "alice", 10.0),
            conversation("web:b", "bob", 30.0),
            conversation("web:c", "carol", 20.0),
        ],
    )
    await insert(
        sql_engine,
        turns,
        [turn("web:a", "明天天气 100% 晴", 1.0), turn("web:c", "明天开会", 2.0)],
    )
    found = await search_conversations(sql_engine, "")
    assert [c.session_key for c in found] == ["web:b", "web:c", "web:a"]
    assert [c.session_key for c in await search_conversations(sql_engine, "明天")] == [
        "web:c",
        "web:a",
    ]
    assert [c.user_id for c in await search_conversations(sql_engine, "bob")] == ["bob"]
    assert [c.session_key for c in await search_conversations(sql_engine, "0%")] == ["web:a"]
    assert await search_conversations(sql_engine, "%") == [found[2]]  # a percent, no wildcard
    assert await search_conversations(sql_engine, "_") == []
    assert len(await search_conversations(sql_engine, "", limit=2)) == 2


async def test_search_opens_sealed_turns(sql_engine: Database) -> None:
    keyring = Keyring(parse_key(new_key(), "test"))
    await insert(sql_engine, conversations, [conversation("web:s", "sam", 1.0)])
    await insert(sql_engine, turns, [turn("web:s", keyring.seal("秘密的话"), 1.0)])
    found = await search_conversations(sql_engine, "秘密", cipher=keyring)
    assert [c.session_key for c in found] == ["web:s"]
    assert await search_conversations(sql_engine, "公开", cipher=keyring) == []


async def test_stored_turns_are_oldest_first_opened_and_bounded(sql_engine: Database) -> None:
    keyring = Keyring(parse_key(new_key(), "test"))
    await insert(
        sql_engine,
        turns,
        [
            turn("web:t", keyring.seal("第二"), 2.0, "assistant"),
            turn("web:t", keyring.seal("第一"), 1.0),
            turn("web:t", keyring.seal("同时"), 2.0),
            turn("web:other", keyring.seal("别人"), 0.5),
        ],
    )
    read = await stored_turns(sql_engine, "web:t", 10, keyring)
    assert [(t.role, t.content, t.provider) for t in read] == [
        ("user", "第一", None),
        ("assistant", "第二", "deepseek"),
        ("user", "同时", None),
    ]
    assert [t.content for t in await stored_turns(sql_engine, "web:t", 2, keyring)] == [
        "第一",
        "第二",
    ]
    assert await stored_turns(sql_engine, "web:\x00", 10) == []


async def test_dead_letters_listed_newest_first_and_retried_once(sql_engine: Database) -> None:
    rows = [
        {"channel": "telegram", "session_key": "tg:1", "text": text, "status": status}
        | {"attempts": 5, "next_attempt_at": 1.0, "created_at": 1.0, "updated_at": 2.0}
        for text, status in [("死了", "dead"), ("过期", "expired"), ("等待", "pending")]
    ]
    await insert(sql_engine, outbox, rows)
    listed = await dead_letters(sql_engine)
    assert [(d.text, d.status, d.attempts) for d in listed] == [
        ("过期", "expired", 5),
        ("死了", "dead", 5),
    ]
    pending_id = listed[0].id + 1
    assert not await retry_dead_letter(sql_engine, pending_id, 50.0)
    assert await retry_dead_letter(sql_engine, listed[1].id, 50.0)
    assert not await retry_dead_letter(sql_engine, listed[1].id, 60.0)
    async with sql_engine.connect() as connection:
        row = (await connection.execute(outbox.select().where(outbox.c.id == listed[1].id))).one()
    assert (row.status, row.attempts, row.next_attempt_at, row.created_at) == (
        "pending",
        0,
        50.0,
        50.0,
    )
    assert [d.text for d in await dead_letters(sql_engine)] == ["过期"]
