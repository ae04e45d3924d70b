"""What the core needs from other replicas when several gateways share one store.

A single process needs none of it: the dispatcher's per-session lanes already order each
session's work. The Redis implementations live in `aibot.replicas` and are loaded only when
`redis.url` and a PostgreSQL store are both configured.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import NamedTuple, Protocol


class SessionLocks(Protocol):
    def hold(self, session_key: str, *, wait: bool) -> AbstractAsyncContextManager[bool]:
        """Holds the session's lock across replicas for the block; yields False when `wait` is
        off and another replica holds it. Raises CoordinationUnavailable if it cannot tell."""


class Appended(NamedTuple):
    """The conversation at a stamp is the one at the stamp `since` plus its `turns` newest
    turns, and nothing else changed in between (no reset, no model change): a replica whose
    cached conversation is at `since` reads only those turns (core/sessions.py), or, when the
    holder left them in their carried form (`carried`, store/carried_turns.py), takes them
    from there without reading."""

    since: float
    turns: int
    carried: str | None = None


class SessionStamps(Protocol):
    """The conversation stamp (its row's `updated_at`) that travels with a session's lock, so a
    replica knows without a query whether its cached conversation is still current.

    Taking the lock reads the stamp the last holder left (`seen`); the holder says what to
    leave at release (`leave`): the stamp its writes committed, or None while a write is in
    flight or failed, which leaves no stamp and makes the next holder read the store. A holder
    whose lock lapsed leaves a mark no stamp matches, and a release changes the stamp only if
    it is still the one seen at taking: a conversation another holder may have written is read
    again, never trusted."""

    def seen(self, session_key: str) -> float | None:
        """The stamp the held lock of `session_key` vouches for; None when not held or none."""

    def appended(self, session_key: str) -> Appended | None:
        """What the held lock's stamp says was appended since an earlier stamp; None when it
        says nothing (none left, another epoch, a holder that changed more than turns)."""

    def leave(
        self, session_key: str, stamp: float | None, appended: Appended | None = None
    ) -> None:
        """What the release leaves for the next holder (ignored unless held here): the stamp
        and, when the holder knows it, what its conversation appended since an earlier one."""

    async def drop_chat(self, chat_key: str) -> None:
        """Marks the stamps of a chat and its members' sessions (`chat_key:…`) stale: written
        without their locks (a platform event's reset)."""


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
