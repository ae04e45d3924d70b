"""The turns a replica appended travel with the lock's stamp (issue 20): the replica behind
takes them from the lock's reply and reads nothing; what cannot be trusted to be them (too
long, tool turns, damaged, plaintext where encryption is on) is read from the store as before.
Real Redis, the store replicas share (PostgreSQL; MariaDB and SQLite, which have no read of
the newer turns alone, for the catching-up that needs none)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aibot.core.messages import ToolCall, TurnRecord
from aibot.core.sessions import CachedTurn, cached_turn
from aibot.store.carried_turns import CARRY_LIMIT, carry, uncarry
from aibot.store.crypto import PLAIN, Keyring
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


def turn(role: str, content: str, at: float) -> CachedTurn:
    return cached_turn(TurnRecord(role, content, at, reasoning="why", request_id="r1"))


def test_carried_turns_come_back_as_they_left_sealed_when_encryption_is_on() -> None:
    ring = Keyring(os.urandom(32))
    turns = [turn("user", "你好 one", 10.000001), turn("assistant", "re: one", 11.5)]
    for cipher in (PLAIN, ring):
        value = carry(cipher, turns)
        assert value is not None
        back = uncarry(cipher, value)
        assert back is not None
        assert [cached_turn(t) for t in back] == turns
    sealed = carry(ring, turns)
    # Spaces and Chinese never occur in the sealed (base64) form, so these cannot match by chance.
    assert sealed is not None and "你好 one" not in sealed and "re: one" not in sealed


def test_turns_that_do_not_travel() -> None:
    call = TurnRecord("assistant", "", 1.0, tool_calls=(ToolCall("c1", "clock", "{}"),))
    result = TurnRecord("tool", "12:00", 2.0, tool_call_id="c1", name="clock")
    assert carry(PLAIN, [turn("user", "q", 0.5), cached_turn(call)]) is None
    assert carry(PLAIN, [cached_turn(result)]) is None
    assert carry(PLAIN, [turn("assistant", "x" * (CARRY_LIMIT + 1), 1.0)]) is None
    assert carry(PLAIN, [turn("user", "x" * (CARRY_LIMIT // 2), 1.0)] * 3) is None
    long_thought = cached_turn(TurnRecord("assistant", "ok", 1.0, reasoning="x" * CARRY_LIMIT))
    assert carry(PLAIN, [long_thought]) is None
    assert carry(PLAIN, []) == "[]"


@pytest.mark.parametrize(
    "value",
    [
        "not json",
        "{}",
        "[[1, 2, 3, 4, 5]]",
        '[["user", "hi", "soon", null, null]]',
        '[["user", "hi", 1.0, null]]',
        "enc1:zzzzzzzz:AAAA",
    ],
)
def test_a_carried_value_that_is_not_turns_is_refused(value: str) -> None:
    assert uncarry(PLAIN, value) is None
    assert uncarry(Keyring(os.urandom(32)), value) is None


def test_plaintext_is_refused_where_values_are_sealed() -> None:
    plain = carry(PLAIN, [turn("user", "hi", 1.0)])
    assert plain is not None and uncarry(PLAIN, plain) is not None
    assert uncarry(Keyring(os.urandom(32)), plain) is None


async def test_a_conversation_alternating_between_replicas_reads_only_once_per_replica(
    tmp_path: Path,
) -> None:
    """Each replica's state after each message is the single process's, and a replica
    behind reads nothing unless a setting changed (then the whole conversation, as before)."""
    steps: list[tuple[int, Op]] = [
        (0, ("say", "one")),
        (1, ("say", "two")),
        (0, ("say", "three")),
        (0, ("say", "four")),
        (1, ("say", "five")),
        (0, ("say", "six")),
        (1, ("model", "m2")),
        (0, ("say", "seven")),
        (1, ("say", "eight")),
        (0, ("reset", "")),
        (1, ("say", "nine")),
        (0, ("say", "ten")),
    ]
    async with cluster(tmp_path, 2) as (members, writer, _):
        single = Member(CountingStore(members[0].store.repository), key="p")
        for number, (replica, op) in enumerate(steps):
            at = 10.0 * (number + 1)
            state = await members[replica].answer(writer, op, at)
            assert held(state) == held(await single.answer(writer, op, at)), (number, op)
        # Whole reads: each replica's first, and the first after the other changed a setting.
        assert await reads(members) == [(2, 0), (2, 0)]
        assert [m.store.carried for m in members] == [4, 3]


@pytest.mark.parametrize("backend", ["postgresql", "mariadb", "sqlite"])
async def test_a_replica_behind_takes_the_carried_turns_without_a_query(
    tmp_path: Path, backend: str
) -> None:
    async with cluster(tmp_path, 2, backend=backend) as (members, writer, _):
        a, b = await answered_by_both(members, writer)
        state = await a.answer(writer, ("say", "three"), 30.0)
        assert [t["content"] for t in state.turns] == ["two", "re two", "three", "re three"]
        assert held(state) == await stored(a)
        await b.answer(writer, ("say", "four"), 40.0)
        assert await reads(members) == [(1, 0), (1, 0)]
        assert [m.store.carried for m in members] == [1, 1]


async def test_with_encryption_on_redis_holds_the_turns_sealed(tmp_path: Path) -> None:
    ring = Keyring(os.urandom(32))
    async with cluster(tmp_path, 2, cipher=ring) as (members, writer, client):
        a, _ = await answered_by_both(members, writer, ("say", "秘密 two"))
        left = await client.get("aibot:stamp:s")
        assert left is not None and b"enc1:" in left
        assert "秘密 two".encode() not in left and b"re " not in left  # never in base64
        state = await a.answer(writer, ("say", "three"), 30.0)
        assert (a.store.full, a.store.newer, a.store.carried) == (1, 0, 1)
        assert held(state) == await stored(a)


async def test_a_long_answer_is_read_not_carried(tmp_path: Path) -> None:
    async with cluster(tmp_path, 2) as (members, writer, _):
        a, _ = await answered_by_both(members, writer, ("say", "x" * CARRY_LIMIT))
        state = await a.answer(writer, ("say", "three"), 30.0)
        assert (a.store.full, a.store.newer, a.store.carried) == (1, 1, 0)
        assert held(state) == await stored(a)


@pytest.mark.parametrize(
    "carried",
    [
        "not json",
        '[["user", "two", 20.0, null, null]]',  # one turn where the count says two
        '[["user", "forged", 20.0, null, null], ["assistant", "re", 20.5, null, null]]',
    ],
)
async def test_carried_turns_that_cannot_be_trusted_are_read(tmp_path: Path, carried: str) -> None:
    """Damage, a count that differs, and (with encryption on) a plaintext value: the store's
    turns are what the replica holds."""
    async with cluster(tmp_path, 2, cipher=Keyring(os.urandom(32))) as (members, writer, client):
        a, state = await answered_after(members, writer, client, "{epoch}:20.0:10.0:2:" + carried)
        assert (a.store.full, a.store.newer, a.store.carried) == (1, 1, 0)
        assert "forged" not in [t["content"] for t in state.turns]
        assert held(state) == await stored(a)
