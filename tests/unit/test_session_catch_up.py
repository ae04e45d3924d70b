"""A cached conversation catching up by the turns another replica appended (issue 20): the lock's
stamp says what was appended since which stamp, and a replica whose cache is at that stamp reads
only the newer turns; any other case reads the whole conversation, as before. On PostgreSQL, the
store replicas share, with the session read the gateway builds, and a real Redis. Here the
turns do not travel with the stamp (`carry=False`: too long, tool turns, a replica of the
version before); tests/unit/test_carried_turns.py has them travelling."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as redis

from aibot.core.coordination import Appended
from aibot.core.messages import TurnRecord
from aibot.replicas.locks import RedisSessionLocks
from tests.support.databases import redis_client
from tests.support.replica_sessions import (
    CountingStore,
    Member,
    Op,
    answered_after,
    answered_by_both,
    cluster,
    held,
    reads,
    stored,
)


async def test_a_conversation_alternating_between_replicas_holds_what_one_process_holds(
    tmp_path: Path,
) -> None:
    """Each replica's state after each message is the single process's: turn order, the
    window of `keep` turns, a model change and a reset, whichever replica answered before."""
    steps: list[tuple[int, Op]] = [
        (0, ("say", "one")),
        (1, ("say", "two")),
        (0, ("say", "three")),
        (0, ("say", "four")),
        (1, ("say", "five")),
        (1, ("model", "m2")),
        (0, ("say", "six")),
        (1, ("say", "seven")),
        (0, ("reset", "")),
        (1, ("say", "eight")),
        (0, ("say", "nine")),
        (0, ("model", "m3")),
        (0, ("say", "ten")),
        (1, ("say", "eleven")),
        (0, ("say", "twelve")),
    ]
    async with cluster(tmp_path, 2, carry=False) as (members, writer, _):
        single = Member(CountingStore(members[0].store.repository, carry=False), key="p")
        for number, (replica, op) in enumerate(steps):
            at = 10.0 * (number + 1)
            state = await members[replica].answer(writer, op, at)
            assert held(state) == held(await single.answer(writer, op, at)), (number, op)
        assert sum(m.store.newer for m in members) >= 5  # most re-reads only caught up


async def test_a_replica_behind_reads_only_the_turns_appended_since_its_stamp(
    tmp_path: Path,
) -> None:
    async with cluster(tmp_path, 2, carry=False) as (members, writer, _):
        a, b = await answered_by_both(members, writer)  # a new conversation, nothing cached
        assert await reads(members) == [(1, 0), (1, 0)]
        await a.answer(writer, ("say", "three"), 30.0)  # two turns behind: catches up
        await b.answer(writer, ("say", "four"), 40.0)
        assert await reads(members) == [(1, 1), (1, 1)]
        await b.answer(writer, ("say", "five"), 50.0)  # current: no read
        state = await a.answer(writer, ("say", "six"), 60.0)  # four turns behind, one read
        assert await reads(members) == [(1, 2), (1, 1)]
        assert [t["content"] for t in state.turns] == ["five", "re five", "six", "re six"]
        assert held(state) == await stored(a)


@pytest.mark.parametrize("change", ["model", "reset"])
async def test_a_message_that_changed_a_setting_leaves_no_catching_up(
    tmp_path: Path, change: str
) -> None:
    async with cluster(tmp_path, 2, carry=False) as (members, writer, _):
        a, _ = await answered_by_both(members, writer, (change, "m2"))
        state = await a.answer(writer, ("say", "two"), 30.0)
        assert await reads(members) == [(2, 0), (1, 0)]
        assert held(state) == await stored(a)


async def test_a_cache_older_than_the_stamp_caught_up_from_is_read_whole(tmp_path: Path) -> None:
    """A third replica answered in between: the stamp left says what was appended since the
    second's, not since the first's."""
    async with cluster(tmp_path, 3, carry=False) as (members, writer, _):
        a, b, c = members
        for member, at in ((a, 10.0), (b, 20.0), (c, 30.0)):
            await member.answer(writer, ("say", str(at)), at)
        state = await a.answer(writer, ("say", "four"), 40.0)
        assert (a.store.full, a.store.newer) == (2, 0)
        assert held(state) == await stored(a)


async def test_a_turn_the_stamp_does_not_count_makes_the_read_whole(tmp_path: Path) -> None:
    """More newer turns than the stamp says (written without the lock): the catching-up read
    is dropped and the whole conversation read."""
    async with cluster(tmp_path, 2, carry=False) as (members, writer, _):
        a, _ = await answered_by_both(members, writer)
        repo = a.store.repository
        await writer.submit(*repo.add_turns("s", [TurnRecord("user", "stray", 25.0)]))
        state = await a.answer(writer, ("say", "three"), 30.0)
        assert (a.store.full, a.store.newer) == (2, 1)
        assert "stray" in [t["content"] for t in state.turns]
        assert held(state) == await stored(a)


@pytest.mark.parametrize("left", ["{epoch}:20.0", "{epoch}:20.0:10.0", "{epoch}:20.0:x:2", ""])
async def test_a_stamp_without_a_readable_count_is_not_caught_up_from(
    tmp_path: Path, left: str
) -> None:
    """The form the version before leaves (no count), a malformed one, none at all."""
    async with cluster(tmp_path, 2, carry=False) as (members, writer, client):
        a, state = await answered_after(members, writer, client, left)
        assert (a.store.full, a.store.newer) == (2, 0)
        assert held(state) == await stored(a)


async def carrying_locks(client: redis.Redis) -> tuple[RedisSessionLocks, RedisSessionLocks]:
    """Two replicas' locks, both carrying stamps."""
    a, b = RedisSessionLocks(client, "a", ttl=5.0), RedisSessionLocks(client, "b", ttl=5.0)
    await a.carry_stamps()
    await b.carry_stamps()
    return a, b


async def test_the_count_travels_with_the_stamp(tmp_path: Path) -> None:
    async with redis_client() as client:
        a, b = await carrying_locks(client)
        async with a.hold("s", wait=False):
            a.leave("s", 20.5, Appended(10.25, 4))
            assert (a.seen("s"), a.appended("s")) == (20.5, Appended(10.25, 4))
        async with b.hold("s", wait=False):
            assert (b.seen("s"), b.appended("s")) == (20.5, Appended(10.25, 4))
            b.leave("s", 30.5)
        async with a.hold("s", wait=False):
            assert (a.seen("s"), a.appended("s")) == (30.5, None)


async def test_what_the_lock_says_follows_the_leave_and_the_epoch(tmp_path: Path) -> None:
    """Read once per hold and kept, but never past a `leave` or an epoch that moved on."""
    async with redis_client() as client:
        a, b = await carrying_locks(client)
        async with a.hold("s", wait=False):
            a.leave("s", 20.5, Appended(10.25, 2, "[]"))
        async with b.hold("s", wait=False):
            assert (b.seen("s"), b.appended("s")) == (20.5, Appended(10.25, 2, "[]"))
            b.leave("s", 30.5)
            assert (b.seen("s"), b.appended("s")) == (30.5, None)
            epoch = b.epoch
            b.epoch = "another"
            assert (b.seen("s"), b.appended("s")) == (None, None)
            b.epoch = epoch
            assert b.seen("s") == 30.5
