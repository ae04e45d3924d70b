"""API keys from the console: stored hashed, scoped, expiring, revocable, and accepted by the
request path from an in-memory set that is refreshed (never a query per request)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from aibot.admin.keys import ApiKeyStore
from aibot.channels.api_keys import ApiKeys, StoredKey
from aibot.i18n import set_request_language
from aibot.store.database import Database
from aibot.store.schema import api_keys
from tests.support.clock import FakeClock
from tests.support.waiting import wait_until


@pytest.fixture
def engine(sql_engine: Database) -> Database:
    return sql_engine


def stored(key: str, scope: str = "all", expires_at: float | None = None) -> StoredKey:
    return StoredKey(hashlib.sha256(key.encode()).digest(), "apikey-1", scope, expires_at)


@pytest.mark.parametrize(
    ("scope", "path", "allowed"),
    [
        ("all", "/v1/models", True),
        ("all", "/api/v1/chat", True),
        ("all", "", True),
        ("openai", "/v1/chat/completions", True),
        ("openai", "/api/v1/chat", False),
        ("openai", "", False),
        ("rest", "/api/v1/chat", True),
        ("rest", "/v1/models", False),
        ("rest", "/api/v1x", False),
        ("unknown", "/v1/models", False),
        ("admin", "/v1/models", True),
        ("admin", "/api/v1/chat", True),
        ("admin", "", True),
    ],
)
def test_scopes_open_their_paths_only(scope: str, path: str, allowed: bool) -> None:
    assert stored("k", scope).allows(path, now=0) is allowed


def test_expiry_is_checked_per_request() -> None:
    clock = FakeClock(99.0)
    keys = ApiKeys([], clock=clock)
    keys._stored = [stored("aib_secret", expires_at=100.0)]
    assert keys.principal("aib_secret", "/v1/models") == "apikey-1"
    clock.now = 100.0
    assert keys.principal("aib_secret", "/v1/models") is None


def test_chat_admin_rights_come_from_the_key_scope_or_admin_keys() -> None:
    """Issue 16, item 4: the only way an API caller is a chat admin."""
    clock = FakeClock(99.0)
    keys = ApiKeys(["k1-secret-123", "k2-secret-123"], admin_keys=["key-2"], clock=clock)
    keys._stored = [stored("aib_admin", "admin", expires_at=100.0)]
    assert [keys.is_admin(p) for p in ("key-1", "key-2", "apikey-1", None)] == [
        False,
        True,
        True,
        False,
    ]
    keys._stored = [stored("aib_all", "all")]
    assert not keys.is_admin("apikey-1")  # scope "all" opens every path, but is no admin
    keys._stored = [stored("aib_admin", "admin", expires_at=100.0)]
    clock.now = 100.0
    assert not keys.is_admin("apikey-1")  # expired


async def test_refresh_swaps_the_set_and_keeps_it_when_the_store_fails() -> None:
    current = [stored("aib_one")]
    fail = [False]

    async def load() -> list[StoredKey]:
        if fail[0]:
            raise OSError("store down")
        return list(current)

    keys = ApiKeys(["config-key-123456"])
    await keys.start_refreshing(load, interval=3600)
    try:
        assert keys.principal("config-key-123456", "/v1/models") == "key-1"
        assert keys.principal("aib_one", "/v1/models") == "apikey-1"
        current.clear()
        await keys.refresh()
        assert keys.principal("aib_one", "/v1/models") is None  # revoked
        current.append(stored("aib_two"))
        fail[0] = True
        await keys.refresh()
        assert keys.principal("aib_two") is None  # not loaded; the last good set stays
        assert keys.configured
    finally:
        await keys.stop_refreshing()


async def test_periodic_refresh_picks_up_changes_from_other_replicas() -> None:
    current: list[StoredKey] = []

    async def load() -> list[StoredKey]:
        return list(current)

    keys = ApiKeys([])
    await keys.start_refreshing(load, interval=0.01)
    try:
        assert not keys.configured
        current.append(stored("aib_late"))
        assert await wait_until(lambda: keys.configured, timeout=2)
        assert keys.principal("aib_late") == "apikey-1"
    finally:
        await keys.stop_refreshing()


async def test_store_keeps_only_the_hash_and_shows_a_prefix(engine: Database) -> None:
    store = ApiKeyStore(engine)
    key, row = await store.create(" ci bot ", "openai", "alice", now=1000.0, expires_at=2000.0)
    assert key.startswith("aib_") and len(key) >= 40 and row.name == "ci bot"
    assert key.startswith(row.prefix) and len(row.prefix) < len(key) // 3
    async with engine.connect() as connection:
        dumped = repr((await connection.execute(select(api_keys))).all())
    assert key not in dumped and hashlib.sha256(key.encode()).hexdigest() in dumped
    usable = await store.usable()
    assert usable == [
        StoredKey(hashlib.sha256(key.encode()).digest(), f"apikey-{row.id}", "openai", 2000.0)
    ]
    assert row.state(1999) == "active" and row.state(2000) == "expired"
    revoked = await store.revoke(row.id, now=1500.0)
    assert revoked is not None and revoked.state(1501) == "revoked"
    assert await store.revoke(row.id, now=1600.0) is None  # already revoked
    assert await store.usable() == []


async def test_store_refuses_bad_scopes_and_names(engine: Database) -> None:
    set_request_language("en")  # the store's refusals are the console's sentences
    store = ApiKeyStore(engine)
    with pytest.raises(ValueError, match="scope"):
        await store.create("x", "root", "alice", 0, None)
    with pytest.raises(ValueError, match="name"):
        await store.create("  ", "all", "alice", 0, None)
    first, _ = await store.create("a", "all", "alice", 0, None)
    second, _ = await store.create("a", "all", "alice", 0, None)
    assert first != second
