"""The API keys' rows (store/api_keys.py) on SQLite, PostgreSQL and MariaDB: a rotation
replaces an active key in one step and refuses a revoked or expired one."""

from __future__ import annotations

import dataclasses

from aibot.store import api_keys
from aibot.store.api_keys import KeyHash, NewKey
from aibot.store.database import Database


def new(n: int) -> NewKey:
    return NewKey(f"{n:064x}", f"aib_{n:06d}", "alice")


async def test_replace_revokes_the_old_key_and_keeps_its_name_scope_and_expiry(
    sql_engine: Database,
) -> None:
    old = await api_keys.add(sql_engine, new(1), "ci", "openai", 1000.0, 5000.0)
    replaced = await api_keys.replace(sql_engine, old.id, new(2), 2000.0)
    assert replaced is not None
    fresh, revoked = replaced
    assert (fresh.name, fresh.scope, fresh.expires_at, fresh.created_at) == (
        "ci",
        "openai",
        5000.0,
        2000.0,
    )
    assert revoked == dataclasses.replace(old, revoked_at=2000.0)
    assert [k.id for k in await api_keys.every(sql_engine)] == [fresh.id, old.id]
    assert await api_keys.unrevoked(sql_engine) == [
        KeyHash(fresh.id, f"{2:064x}", "openai", 5000.0)
    ]
    assert await api_keys.replace(sql_engine, old.id, new(3), 2100.0) is None  # revoked


async def test_an_expired_or_unknown_key_is_not_replaced(sql_engine: Database) -> None:
    old = await api_keys.add(sql_engine, new(1), "ci", "all", 1000.0, 1500.0)
    assert await api_keys.replace(sql_engine, old.id, new(2), 1500.0) is None
    assert await api_keys.replace(sql_engine, old.id + 1, new(2), 1200.0) is None
    assert [k.state(1500.0) for k in await api_keys.every(sql_engine)] == ["expired"]
