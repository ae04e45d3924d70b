"""What the core needs from other replicas when several gateways share one store.

A single process needs none of it: the dispatcher's per-session lanes already order each
session's work. The Redis implementations live in `aibot.replicas` and are loaded only when
`redis.url` and a PostgreSQL store are both configured.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol


class SessionLocks(Protocol):
    def hold(self, session_key: str, *, wait: bool) -> AbstractAsyncContextManager[bool]:
        """Holds the session's lock across replicas for the block; yields False when `wait` is
        off and another replica holds it. Raises CoordinationUnavailable if it cannot tell."""


class Peers(Protocol):
    """This replica's name and which others are alive, for taking over their work."""

    me: str

    async def alive(self, replica: str) -> bool: ...


class SharedFlags(Protocol):
    """Channel pauses every replica obeys (set in the console of any one of them)."""

    async def set_paused(self, channel: str, paused: bool) -> None: ...

    async def paused(self) -> set[str]: ...


class ApprovalBoard(Protocol):
    """Tool questions every replica can answer (`core/approvals.py`): the asking replica opens
    one and polls for its decision; any replica that gets the answer settles it, once."""

    async def open(
        self, session_key: str, token: str, user_id: str, channel: str, question: str, ttl: float
    ) -> None: ...

    async def settle(
        self,
        *,
        channel: str,
        user_id: str,
        approve: bool,
        session_key: str | None = None,
        token: str | None = None,
    ) -> str | None:
        """Decides the open question of `session_key` (a typed answer) or with `token` (a
        button) when `user_id` on `channel` was asked; returns its text, None if it settled
        nothing (none open, another user's, already decided)."""

    async def decision(self, token: str) -> bool | None: ...

    async def close(self, session_key: str, token: str) -> None: ...
