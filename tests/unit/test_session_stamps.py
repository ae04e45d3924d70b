"""The conversation stamp that travels with a session's lock (issue 20): a replica uses its
cached conversation without a query while the stamp holds, and reads the store whenever another
holder may have written — another replica answered, a write was in flight or failed, a holder's
lock lapsed, a platform event reset the chat."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
import redis.asyncio as redis

from aibot.core.messages import TurnRecord
from aibot.core.sessions import SessionMemory, SessionState, SessionStore
from aibot.replicas.locks import RedisSessionLocks
from aibot.replicas.membership import Membership
from aibot.store.database import Database
from aibot.store.repository import Repository
from aibot.store.writer import GroupCommitWriter
from tests.support.databases import redis_client


@pytest.fixture
async def client() -> AsyncIterator[redis.Redis]:
    async with redis_client() as connection:
        yield connection


async def carrying(client: redis.Redis, name: str, ttl: float = 5.0) -> RedisSessionLocks:
    """Locks of a replica whose coordinator ticked once: every replica alive carries stamps."""
    locks = RedisSessionLocks(client, name, ttl=ttl)
    await locks.carry_stamps()
    return locks


class CountingStore:
    """The repository, counting the conversation reads memory makes."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.repository, name)
        if name in ("load_session", "conversation"):
            self.reads += 1
        return attribute


class Replica:
    """One replica's memory and locks over the shared store and Redis."""

    def __init__(self, locks: RedisSessionLocks, store: CountingStore) -> None:
        self.locks = locks
        self.repository = store.repository
        self.memory = SessionMemory(
            cast(SessionStore, store), max_turns=5, cache_size=10, stamps=self.locks
        )

    async def turn(self, writer: GroupCommitWriter, text: str, at: float) -> SessionState:
        """What ChatService does for one message of session "s" that writes a turn."""
        store = self.repository
        async with self.locks.hold("s", wait=True) as held:
            assert held
            state = await self.memory.get("s")
            record = TurnRecord("user", text, at)
            self.memory.writing("s")
            await writer.submit(
                store.save_conversation("s", "hook", "u", at), *store.add_turns("s", [record])
            )
            self.memory.remember(state, [record])
            state.stamp = at
            self.memory.written(state)
        return state


@contextlib.asynccontextmanager
async def shared_store(sql_engine: Database) -> AsyncIterator[tuple[CountingStore, Any]]:
    store = CountingStore(Repository(sql_engine, fenced=True))
    writer = GroupCommitWriter(sql_engine)
    writer.start()
    try:
        yield store, writer
    finally:
        await writer.stop()


async def test_the_stamp_travels_with_the_lock(client: redis.Redis) -> None:
    a, b = await carrying(client, "a"), await carrying(client, "b")
    async with a.hold("s", wait=False):
        assert a.seen("s") is None  # nobody wrote it yet
        a.leave("s", 10.5)
        assert a.seen("s") == 10.5
    assert a.seen("s") is None  # not held: no stamp vouches for anything
    async with b.hold("s", wait=False):
        assert b.seen("s") == 10.5
        b.leave("s", None)  # a write in flight: the next holder must read the store
    assert await client.get("aibot:stamp:s") is None
    async with a.hold("s", wait=False):
        assert a.seen("s") is None


async def test_a_holder_that_dies_leaves_no_stamp(client: redis.Redis) -> None:
    """Its writes may have landed before it died (SIGKILL): the next holder reads the store."""
    a, b = await carrying(client, "a", 0.3), await carrying(client, "b", 0.3)
    async with a.hold("s", wait=False):
        a.leave("s", 1.0)
    dying = a.hold("s", wait=False)
    assert await dying.__aenter__()
    a.leave("s", 2.0)  # never released: the lock lapses
    async with b.hold("s", wait=True) as held:
        assert held and b.seen("s") is None


@pytest.mark.parametrize("lapsed_first", [True, False])
async def test_a_holder_whose_lock_lapsed_leaves_no_stamp_anyone_trusts(
    client: redis.Redis, lapsed_first: bool
) -> None:
    a, b = await carrying(client, "a", 0.3), await carrying(client, "b", 0.3)
    async with a.hold("s", wait=False):
        a.leave("s", 1.0)
    late = a.hold("s", wait=False)
    assert await late.__aenter__()
    a.leave("s", 2.0)  # a wrote, but its lock lapses before it lets go (never renewed)
    taker = b.hold("s", wait=True)
    assert await taker.__aenter__()
    b.leave("s", 3.0)  # b read and wrote; a may still write after b read
    for context in (late, taker) if lapsed_first else (taker, late):
        await context.__aexit__(None, None, None)
    assert await client.get("aibot:stamp:s") == b"lapsed"
    async with b.hold("s", wait=False):
        assert b.seen("s") is None


async def test_a_cached_conversation_is_used_without_a_query_while_its_stamp_holds(
    sql_engine: Database, client: redis.Redis
) -> None:
    async with shared_store(sql_engine) as (store, writer):
        mine = Replica(await carrying(client, "a"), store)
        theirs = Replica(await carrying(client, "b"), store)
        await mine.turn(writer, "one", 10.0)
        assert store.reads == 1  # a new conversation: read once
        await mine.turn(writer, "two", 20.0)
        assert store.reads == 1  # the lock's stamp says the cache is current: no query
        state = await theirs.turn(writer, "three", 30.0)
        assert store.reads == 2 and [x["content"] for x in state.turns] == ["one", "two", "three"]
        # Another replica answered: the turns it appended came with its stamp, no query
        # (tests/unit/test_session_catch_up.py: read when they do not travel).
        state = await mine.turn(writer, "four", 40.0)
        assert store.reads == 2
        assert [x["content"] for x in state.turns] == ["one", "two", "three", "four"]


async def test_a_write_in_flight_at_release_makes_the_next_holder_read(
    sql_engine: Database, client: redis.Redis
) -> None:
    async with shared_store(sql_engine) as (store, writer):
        mine = Replica(await carrying(client, "a"), store)
        await mine.turn(writer, "one", 10.0)
        with pytest.raises(RuntimeError):
            async with mine.locks.hold("s", wait=True):
                state = await mine.memory.get("s")
                state.stamp = 20.0  # the persist stage stamps before the commit
                mine.memory.writing("s")
                raise RuntimeError("cancelled before the commit said whether it landed")
        reads = store.reads
        async with mine.locks.hold("s", wait=True):
            await mine.memory.get("s")
        assert store.reads == reads + 1


async def test_a_reset_chat_marks_the_stamps_of_the_chat_and_its_members(
    client: redis.Redis,
) -> None:
    locks = await carrying(client, "a")
    keys = ["tg:1", "tg:1:u7", "tg:10", "tg:a*", "tg:ab:u1"]
    for number, key in enumerate(keys):
        async with locks.hold(key, wait=False):
            locks.leave(key, float(number))
    async with locks.hold("tg:1:u8", wait=False):  # held while the chat is reset
        locks.leave("tg:1:u8", 9.0)
        await locks.drop_chat("tg:1")
    await locks.drop_chat("tg:a*")  # a glob in a chat id matches only itself
    keys.append("tg:1:u8")
    seen = {}
    for key in keys:
        async with locks.hold(key, wait=False):
            seen[key] = locks.seen(key)
    assert seen == {
        "tg:1": None,
        "tg:1:u7": None,
        "tg:10": 2.0,
        "tg:a*": None,
        "tg:ab:u1": 4.0,
        "tg:1:u8": None,
    }


async def test_no_stamp_is_trusted_while_a_replica_without_stamps_is_alive(
    client: redis.Redis,
) -> None:
    """A rolling upgrade: a replica of an earlier version writes conversations without
    touching the stamps, so none is trusted while it beats, nor any left before it came."""
    locks = await carrying(client, "new", 0.3)
    for key in ("s", "t"):
        async with locks.hold(key, wait=False):
            locks.leave(key, 1.0)
    await Membership(client, "old", ttl=0.3).beat()  # the old replica joins
    await locks.carry_stamps()
    async with locks.hold("s", wait=False):
        assert locks.seen("s") is None
        locks.leave("s", 2.0)  # leaves nothing while the old replica is alive
    assert await client.get("aibot:stamp:s") is None
    await asyncio.sleep(0.4)  # its beat expires: it stopped
    await locks.carry_stamps()
    assert locks.epoch is not None
    async with locks.hold("s", wait=False):
        locks.leave("s", 3.0)
    async with locks.hold("s", wait=False):
        assert locks.seen("s") == 3.0
    async with locks.hold("t", wait=False):  # left before the old replica came: not trusted
        assert locks.seen("t") is None
