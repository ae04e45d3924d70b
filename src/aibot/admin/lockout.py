"""Login lockout: after N failures within the window, a user name or client IP waits.

Both are counted, so guessing one account's password from many addresses and guessing many
accounts from one address are each stopped. Failures are rows in the store
(store/login_failures.py), so every replica sees the same count and a restart does not reset
it; rows older than the window are deleted as new ones arrive.

Checking and counting are one step that concurrent guesses cannot slip between: an attempt is
written (and committed) as a failure *before* its password is checked, and only then are the
rows counted — so among any number of parallel attempts, on one replica or many, the k-th to be
written sees at least k-1 others, and at most N of them are ever checked within the window. A
successful login takes its own rows back. On top of that, `KeyedLocks` lets one process check
one password per user at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from aibot.store import login_failures
from aibot.store.database import Database


@dataclass(frozen=True)
class Attempt:
    """A login attempt, already counted as a failure on each of its keys (its rows' ids)."""

    ids: tuple[int, ...]


class Lockout:
    def __init__(
        self,
        engine: Database,
        attempts: int,
        window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self._attempts = attempts
        self._window = window
        self._clock = clock

    async def begin(self, *keys: str) -> Attempt | float:
        """Counts an attempt on every key, then checks them: the attempt, or the seconds to wait
        when a key already had N attempts in the window (this one is then not counted)."""
        now = self._clock()
        ids = await login_failures.record(self.engine, keys, now, now - self._window)
        wait = await self._wait(keys, ids, now)
        if wait > 0:
            await login_failures.forget(self.engine, ids)
            return wait
        return Attempt(tuple(ids))

    async def succeeded(self, attempt: Attempt, *keys: str) -> None:
        """Takes the attempt back and clears the failures of `keys` (the user's, not the IP's:
        one right password must not reset the count of an address guessing many accounts)."""
        await login_failures.forget(self.engine, attempt.ids, keys)

    async def _wait(self, keys: tuple[str, ...], own: list[int], now: float) -> float:
        """Seconds until every key may try again, counting the other attempts only."""
        rows = await login_failures.since(self.engine, keys, now - self._window)
        times: dict[str, list[float]] = {}
        for row_id, key, at in rows:
            if row_id not in own:
                times.setdefault(key, []).append(at)
        return max(
            (
                sorted(recent)[-self._attempts] + self._window - now
                for recent in times.values()
                if len(recent) >= self._attempts
            ),
            default=0.0,
        )


class KeyedLocks:
    """One lock per key, kept only while someone holds or waits for it: parallel logins for
    one user are checked one after the other, so the count above is read between them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
