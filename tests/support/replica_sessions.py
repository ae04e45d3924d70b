"""Replicas of one conversation for the catching-up tests: each a `SessionMemory` with the
session locks and stamps of a real Redis, over one store with the session read the gateway
builds, doing for a message what ChatService and the persist stage do."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import redis.asyncio as redis

from aibot.core.messages import TurnRecord
from aibot.core.sessions import Loaded, SessionMemory, SessionState, SessionStore
from aibot.replicas.locks import RedisSessionLocks
from aibot.store.crypto import PLAIN, Cipher
from aibot.store.repository import Repository
from aibot.store.session_read import session_read_for
from aibot.store.writer import GroupCommitWriter
from tests.support.databases import migrated_store, redis_client, url_of

# An operation of one message: ("say", text), ("model", name) or ("reset", "").
Op = tuple[str, str]


class CountingStore:
    """The repository, counting the whole reads and the catching-up reads memory makes, and
    the catching-up that took the turns carried with the stamp (`carried`). With `carry` off
    it is a store whose turns do not travel (a replica of the version before), so catching
    up reads."""

    def __init__(self, repository: Repository, *, carry: bool = True) -> None:
        self.repository = repository
        self.carry = carry
        self.full = self.newer = self.carried = 0

    async def load_session(self, session_key: str, keep: int) -> Loaded:
        self.full += 1
        return await self.repository.load_session(session_key, keep)

    async def load_newer(self, session_key: str, after: float, limit: int) -> Loaded | None:
        self.newer += 1
        return await self.repository.load_newer(session_key, after, limit)

    def carried_turns(self, carried: str) -> list[TurnRecord] | None:
        turns = self.repository.carried_turns(carried)
        self.carried += turns is not None
        return turns

    def __getattr__(self, name: str) -> Any:
        if not self.carry and name in ("carry_turns", "carried_turns"):
            raise AttributeError(name)
        return getattr(self.repository, name)


class Member:
    """One replica (with locks) or the single process (without): what ChatService and the
    persist stage do for a message of session `key`."""

    def __init__(
        self, store: CountingStore, locks: RedisSessionLocks | None = None, key: str = "s"
    ) -> None:
        self.store, self.locks, self.key = store, locks, key
        self.memory = SessionMemory(
            cast(SessionStore, store), max_turns=2, cache_size=10, stamps=locks
        )

    async def answer(self, writer: GroupCommitWriter, op: Op, at: float) -> SessionState:
        if self.locks is None:
            return await self._answer(writer, op, at)
        async with self.locks.hold(self.key, wait=True) as held:
            assert held
            return await self._answer(writer, op, at)

    async def _answer(self, writer: GroupCommitWriter, op: Op, at: float) -> SessionState:
        key = self.key
        state = await self.memory.get(key)
        kind, text = op
        changes: dict[str, Any] = {}
        records: list[TurnRecord] = []
        if kind == "say":
            records = [TurnRecord("user", text, at), TurnRecord("assistant", f"re {text}", at + 1)]
        elif kind == "model":
            state.model = changes["model"] = text
        else:
            SessionMemory.reset(state, at)
            changes["context_from"] = at
        repo = self.store.repository
        state.stamp = at
        self.memory.remember(state, records)
        self.memory.writing(key)
        await writer.submit(
            repo.save_conversation(key, "api", "u", at, **changes), *repo.add_turns(key, records)
        )
        self.memory.written(state)
        return state


def held(state: SessionState) -> tuple[Any, ...]:
    """What a conversation's state holds for the next message's context."""
    turns = [(t["role"], t["content"], t["created_at"]) for t in state.turns]
    return state.model, state.context_from, turns


@contextlib.asynccontextmanager
async def cluster(
    tmp_path: Path,
    replicas: int,
    *,
    carry: bool = True,
    cipher: Cipher = PLAIN,
    backend: str = "postgresql",
) -> AsyncIterator[tuple[list[Member], GroupCommitWriter, redis.Redis]]:
    """`replicas` replicas on one store and Redis, each with its own session read as the
    gateway builds it (PostgreSQL's can read only the newer turns, the others cannot)."""
    async with (
        migrated_store(backend, tmp_path) as engine,
        redis_client() as client,
        contextlib.AsyncExitStack() as stack,
    ):
        members = []
        for number in range(replicas):
            repo = Repository(
                engine,
                fenced=True,
                cipher=cipher,
                session_read=session_read_for(url_of(engine), engine, 2),
            )
            stack.push_async_callback(repo.close)
            locks = RedisSessionLocks(client, f"r{number}", ttl=5.0)
            await locks.carry_stamps()
            members.append(Member(CountingStore(repo, carry=carry), locks))
        writer = GroupCommitWriter(engine)
        writer.start()
        stack.push_async_callback(writer.stop)
        yield members, writer, client


async def reads(members: list[Member]) -> list[tuple[int, int]]:
    return [(m.store.full, m.store.newer) for m in members]


async def stored(member: Member) -> tuple[Any, ...]:
    """What a process that never saw the conversation holds once it reads it."""
    return held(await Member(CountingStore(member.store.repository)).memory.get(member.key))


async def answered_by_both(
    members: list[Member], writer: GroupCommitWriter, second: Op = ("say", "two")
) -> tuple[Member, Member]:
    """The first replica answers the conversation's first message, the second the next."""
    a, b = members[:2]
    await a.answer(writer, ("say", "one"), 10.0)
    await b.answer(writer, second, 20.0)
    return a, b


async def answered_after(
    members: list[Member], writer: GroupCommitWriter, client: redis.Redis, left: str
) -> tuple[Member, SessionState]:
    """After `answered_by_both`, the stamp the second replica left replaced by `left` (its
    `{epoch}` the locks' epoch), the first replica's state once it answers the next message."""
    a, _ = await answered_by_both(members, writer)
    assert a.locks is not None
    await client.set("aibot:stamp:s", left.replace("{epoch}", a.locks.epoch or ""))
    return a, await a.answer(writer, ("say", "three"), 30.0)
