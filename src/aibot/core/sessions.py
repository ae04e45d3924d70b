"""Conversation memory: the recent turns of each session, cached in memory, durable in the store.

The dispatcher runs one message per session at a time, so a session's cached state is only ever
changed by one task; the cache saves a database read per message. A miss reads the store
directly: a session's writes are committed before its next message starts (the service awaits
them in the session's lane), so no turn of it can still be in the commit queue. (Flushing the
writer on each miss instead cost a full group-commit cycle per new conversation: with more
active conversations than the cache holds, throughput fell from 637 to 240 messages/s.)

With several replicas (`stamps`), another replica may have answered the session since it was
cached: a cached state is used only while its stamp (the conversation row's `updated_at` it was
loaded or last written with) is the one that came with the session's lock
(`core.coordination.SessionStamps`); otherwise the conversation is read again. Comparing with
the row itself cost one query per message (issue 20); the lock's own round trip carries it now.

With no balancer affinity, half of a conversation's messages land on the replica that did not
answer the one before, and each re-read the whole conversation (92–113 µs of CPU for 40 turns).
So a holder whose message only appended turns leaves, with its stamp, the stamp its
conversation extends and how many turns it appended (`Appended`); a replica whose cached copy is
at that earlier stamp reads only the turns after its newest one, with the row (`NewerTurns`),
and keeps them if the row is at the stamp with the cached settings and exactly that many came.
Anything else — another count, a reset, a model change, a store without that read — is the
full read as before. The holder also leaves the appended turns themselves when they are small
and plain (`CarriedTurns`, store/carried_turns.py): the replica behind takes them from the
lock's reply and reads nothing, on any store.

The cached turns are plain dicts of strings and numbers (`CachedTurn`), not objects: CPython's
garbage collector never tracks such a dict, so the cache is not part of any collection's walk.
With objects (a `TurnRecord` and its `Message` per turn) a full cache was ~45,000 tracked
objects, and since a cache that evicts as fast as it fills keeps replacing old objects with new
ones, the collector's allocation count stood still while its young generation filled up with
the whole cache: the one collection that came (once the cache had grown by the young threshold)
walked all of it, 23 ms of CPU on the loaded bench box (bench/README.md, issue 20). The price is
one `Message` built per remembered turn per message instead of one kept per turn.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, runtime_checkable

from aibot.core.coordination import Appended, SessionStamps
from aibot.core.messages import ConversationRow, Message, MessageOutcome, ToolCall, TurnRecord

# A conversation as the store reads it: its row (None: no conversation yet) and recent turns.
Loaded = tuple[ConversationRow | None, list[TurnRecord]]


@runtime_checkable
class NewerTurns(Protocol):
    async def load_newer(self, session_key: str, after: float, limit: int) -> Loaded | None:
        """The conversation row and its newest `limit` turns created after `after`, oldest
        first; None where the store has no such read (only PostgreSQL's does)."""


@runtime_checkable
class CarriedTurns(Protocol):
    """A store that puts the turns a message appended in a form that travels with the lock's
    stamp, and takes them back (store/carried_turns.py): the next holder needs no read."""

    def carry_turns(self, turns: Sequence[CachedTurn]) -> str | None:
        """The turns' carried form; None when they do not travel (the next holder reads)."""

    def carried_turns(self, carried: str) -> list[TurnRecord] | None:
        """The turns a carried form holds; None when it cannot be trusted to hold them."""


class WriteOp(Protocol):
    """A write the store's group-commit writer understands; opaque to the core."""


class SessionStore(Protocol):
    async def load_session(self, session_key: str, keep: int) -> Loaded: ...

    def save_conversation(
        self, session_key: str, channel: str, user_id: str, now: float, **changes: Any
    ) -> WriteOp: ...

    def add_turns(self, session_key: str, records: list[TurnRecord]) -> Sequence[WriteOp]: ...

    def log_message(self, outcome: MessageOutcome) -> WriteOp: ...


class Writer(Protocol):
    """The group-commit writer as the core sees it."""

    async def submit(self, *ops: Any) -> list[Any]: ...

    def submit_nowait(self, *ops: Any) -> asyncio.Future[list[Any]]: ...


class CachedTurn(TypedDict):
    """A remembered turn: what the next messages' context needs of a `TurnRecord`, as a dict
    the garbage collector does not track (module docstring). A tool call's turn holds
    `ToolCall` objects, and its dict is tracked: the rare exception."""

    role: str
    content: str
    created_at: float
    reasoning: str | None
    request_id: str | None
    tokens: int  # the content's token estimate; 0 until the context first needs it
    tool_calls: tuple[ToolCall, ...]
    tool_call_id: str | None
    name: str | None


def cached_turn(record: TurnRecord) -> CachedTurn:
    return {
        "role": record.role,
        "content": record.content,
        "created_at": record.created_at,
        "reasoning": record.reasoning,
        "request_id": record.request_id,
        "tokens": 0,
        "tool_calls": record.tool_calls,
        "tool_call_id": record.tool_call_id,
        "name": record.name,
    }


def turn_message(turn: CachedTurn) -> Message:
    """The turn as a message of the model's context. Built for every remembered turn of every
    message, so a plain turn (no tool call) takes the short positional call: 0.3 µs instead
    of 1–3 µs with keywords."""
    if turn["tool_call_id"] is None and not turn["tool_calls"]:
        return Message(turn["role"], turn["content"], turn["reasoning"])
    return Message(
        turn["role"],
        turn["content"],
        turn["reasoning"],
        tool_calls=turn["tool_calls"],
        tool_call_id=turn["tool_call_id"],
        name=turn["name"],
    )


@dataclass(slots=True)
class SessionState:
    key: str
    model: str | None = None
    context_from: float = 0.0
    turns: list[CachedTurn] = field(default_factory=list)
    stamp: float | None = None  # the conversation row's updated_at this state matches
    # The conversation at `stamp` is the one at `since` plus the `added` newest turns, with the
    # settings `settled` (model, context_from) unchanged: what a release leaves (`Appended`).
    since: float | None = None
    added: int = 0
    settled: tuple[str | None, float] | None = None

    @property
    def last_active(self) -> float:
        return self.turns[-1]["created_at"] if self.turns else self.context_from


class SessionMemory:
    def __init__(
        self,
        store: SessionStore,
        *,
        max_turns: int,
        cache_size: int,
        stamps: SessionStamps | None = None,
    ) -> None:
        self.store = store
        self._stamps = stamps
        self._keep = max(2, max_turns * 2)
        self._cache_size = cache_size
        self._cache: OrderedDict[str, SessionState] = OrderedDict()
        self._primed: dict[str, Loaded] = {}
        self._newer = store if stamps is not None and isinstance(store, NewerTurns) else None
        self._carrier = store if stamps is not None and isinstance(store, CarriedTurns) else None

    @property
    def keep(self) -> int:
        """How many turns a read of a conversation brings (`SessionStore.load_session`)."""
        return self._keep

    def current(self, session_key: str) -> bool:
        """Whether `get` would answer from the cache, without reading the store."""
        state = self._cache.get(session_key)
        return state is not None and (
            self._stamps is None
            or (state.stamp is not None and state.stamp == self._stamps.seen(session_key))
        )

    def prime(self, session_key: str, loaded: Loaded) -> None:
        """A read of the conversation made along with another query (the scale-out inbox
        drain, under the session's lock): the next `get` takes it instead of reading. The
        caller drops it (`unprime`) once the message it was read for is done, so it is never
        taken after a write of the session."""
        self._primed[session_key] = loaded

    def unprime(self, session_key: str) -> None:
        self._primed.pop(session_key, None)

    async def get(self, session_key: str) -> SessionState:
        if self.current(session_key):
            self._cache.move_to_end(session_key)
            state = self._cache[session_key]
            state.settled = (state.model, state.context_from)
            return state
        cached = self._cache.get(session_key)
        loaded = self._primed.pop(session_key, None)
        if loaded is None and cached is not None and await self._catch_up(cached):
            self._cache.move_to_end(session_key)
            return cached
        row, turns = loaded or await self.store.load_session(session_key, self._keep)
        state = SessionState(session_key)
        if row is not None:
            state.stamp = state.since = row.updated_at
            state.model = row.model
            state.context_from = row.context_from
            state.turns = [cached_turn(t) for t in turns]
        state.settled = (state.model, state.context_from)
        if self._cache_size:
            self._cache[session_key] = state
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return state

    async def _catch_up(self, state: SessionState) -> bool:
        """Brings a cached conversation that the lock's stamp says is `Appended` turns behind
        to that stamp with the turns carried with it, or by reading only those turns; False
        (nothing changed) when it cannot."""
        if self._stamps is None:
            return False
        stamp = self._stamps.seen(state.key)
        appended = self._stamps.appended(state.key)
        if stamp is None or appended is None or appended.since != state.stamp:
            return False
        carried = self._carried(appended)
        if carried is not None:
            self._caught_up(state, stamp, carried)
            return True
        if self._newer is None:
            return False
        loaded = await self._newer.load_newer(state.key, state.last_active, appended.turns + 1)
        if loaded is None:
            return False
        row, turns = loaded
        if (
            row is None
            or (row.updated_at, row.model, row.context_from)
            != (stamp, state.model, state.context_from)
            or len(turns) != appended.turns
        ):
            return False
        self._caught_up(state, stamp, turns)
        return True

    def _carried(self, appended: Appended) -> list[TurnRecord] | None:
        """The appended turns the last holder left with its stamp, when all of them are."""
        if appended.carried is None or self._carrier is None:
            return None
        turns = self._carrier.carried_turns(appended.carried)
        return turns if turns is not None and len(turns) == appended.turns else None

    def _caught_up(self, state: SessionState, stamp: float, turns: list[TurnRecord]) -> None:
        self.remember(state, turns)
        state.stamp = state.since = stamp
        state.added = 0
        state.settled = (state.model, state.context_from)

    def remember(self, state: SessionState, records: list[TurnRecord]) -> None:
        state.turns.extend(cached_turn(r) for r in records)
        state.added += len(records)
        if len(state.turns) > self._keep:
            del state.turns[: len(state.turns) - self._keep]

    @staticmethod
    def reset(state: SessionState, now: float) -> None:
        state.context_from = now
        state.turns.clear()

    def writing(self, session_key: str) -> None:
        """A write of the session is on its way: until it is known to have landed, the next
        holder of its lock must read the store (a cancelled or failed commit may still land)."""
        if self._stamps is not None:
            self._stamps.leave(session_key, None)

    def written(self, state: SessionState) -> None:
        """The session's writes landed: its stamp is what the store holds now, and, when the
        message changed no setting, what it appended since `state.since`."""
        if self._stamps is None:
            return
        appended = None
        if (
            state.since is not None
            and state.settled == (state.model, state.context_from)
            and state.added <= self._keep
        ):
            appended = Appended(state.since, state.added, self._carry(state))
        self._stamps.leave(state.key, state.stamp, appended)
        if appended is None:  # what comes next extends the conversation as it is now
            state.since, state.added = state.stamp, 0
            state.settled = (state.model, state.context_from)

    def _carry(self, state: SessionState) -> str | None:
        """The turns appended since `state.since` in the form they travel with the stamp."""
        if self._carrier is None or state.added > len(state.turns):
            return None
        return self._carrier.carry_turns(state.turns[len(state.turns) - state.added :])

    def forget(self, session_key: str) -> None:
        """Drops a cached session whose writes failed; the next read goes to the store."""
        self._cache.pop(session_key, None)

    async def forget_chat(self, chat_key: str) -> None:
        """Drops the chat's cached sessions (and its members' own, `chat_key:…`), here and, by
        their stamps, on every replica: the chat was reset without their locks."""
        for key in [k for k in self._cache if k == chat_key or k.startswith(chat_key + ":")]:
            del self._cache[key]
        if self._stamps is not None:
            await self._stamps.drop_chat(chat_key)
