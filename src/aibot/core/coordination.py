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
