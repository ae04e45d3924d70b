"""Conversation memory: the recent turns of each session, cached in memory, durable in the store.

The dispatcher runs one message per session at a time, so a session's cached state is only ever
changed by one task; the cache saves a database read per message. A miss reads the store
directly: a session's writes are committed before its next message starts (the service awaits
them in the session's lane), so no turn of it can still be in the commit queue. (Flushing the
writer on each miss instead cost a full group-commit cycle per new conversation: with more
active conversations than the cache holds, throughput fell from 637 to 240 messages/s.)

With several replicas (`shared`), another replica may have answered the session since it was
cached: a cached state is used only while the conversation row's `updated_at` is the one it was
loaded or last written with, one indexed read instead of reloading the turns every time.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aibot.core.messages import ConversationRow, MessageOutcome, TurnRecord


class WriteOp(Protocol):
    """A write the store's group-commit writer understands; opaque to the core."""


class SessionStore(Protocol):
    async def conversation(self, session_key: str) -> ConversationRow | None: ...

    async def load_session(
        self, session_key: str, keep: int
    ) -> tuple[ConversationRow | None, list[TurnRecord]]: ...

    def save_conversation(
        self, session_key: str, channel: str, user_id: str, now: float, **changes: Any
    ) -> WriteOp: ...

    def add_turns(self, session_key: str, records: list[TurnRecord]) -> Sequence[WriteOp]: ...

    def log_message(self, outcome: MessageOutcome) -> WriteOp: ...


class Writer(Protocol):
    """The group-commit writer as the core sees it."""

    async def submit(self, *ops: Any) -> list[Any]: ...

    def submit_nowait(self, *ops: Any) -> asyncio.Future[list[Any]]: ...


@dataclass(slots=True)
class SessionState:
    key: str
    model: str | None = None
    context_from: float = 0.0
    turns: list[TurnRecord] = field(default_factory=list)
    stamp: float | None = None  # the conversation row's updated_at this state matches

    @property
    def last_active(self) -> float:
        return self.turns[-1].created_at if self.turns else self.context_from


class SessionMemory:
    def __init__(
        self,
        store: SessionStore,
        *,
        max_turns: int,
        cache_size: int,
        shared: bool = False,
    ) -> None:
        self.store = store
        self._shared = shared
        self._keep = max(2, max_turns * 2)
        self._cache_size = cache_size
        self._cache: OrderedDict[str, SessionState] = OrderedDict()

    async def get(self, session_key: str) -> SessionState:
        state = self._cache.get(session_key)
        if state is not None and not self._shared:
            self._cache.move_to_end(session_key)
            return state
        if state is not None:  # shared: still current unless another replica wrote since
            row = await self.store.conversation(session_key)
            if (row.updated_at if row else None) == state.stamp:
                self._cache.move_to_end(session_key)
                return state
        row, turns = await self.store.load_session(session_key, self._keep)
        state = SessionState(session_key)
        if row is not None:
            state.stamp = row.updated_at
            state.model = row.model
            state.context_from = row.context_from
            state.turns = turns
        if self._cache_size:
            self._cache[session_key] = state
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return state

    def remember(self, state: SessionState, records: list[TurnRecord]) -> None:
        state.turns.extend(records)
        if len(state.turns) > self._keep:
            del state.turns[: len(state.turns) - self._keep]

    @staticmethod
    def reset(state: SessionState, now: float) -> None:
        state.context_from = now
        state.turns.clear()

    def forget(self, session_key: str) -> None:
        """Drops a cached session whose writes failed; the next read goes to the store."""
        self._cache.pop(session_key, None)

    def forget_chat(self, chat_key: str) -> None:
        """Drops the chat's cached sessions (and its members' own, `chat_key:…`)."""
        for key in [k for k in self._cache if k == chat_key or k.startswith(chat_key + ":")]:
            del self._cache[key]
