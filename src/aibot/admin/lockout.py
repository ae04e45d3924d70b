"""Login lockout: after N failures within the window, a user name or client IP waits.

Both are counted, so guessing one account's password from many addresses and guessing many
accounts from one address are each stopped. Failures are rows in the store, so every replica
sees the same count and a restart does not reset it; rows older than the window are deleted
as new ones arrive.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.store.schema import login_failures

KEY_MAX = 200


class Lockout:
    def __init__(
        self,
        engine: AsyncEngine,
        attempts: int,
        window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self._attempts = attempts
        self._window = window
        self._clock = clock

    async def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again; 0 when none is locked."""
        now = self._clock()
        query = (
            select(login_failures.c.key, login_failures.c.at)
            .where(login_failures.c.key.in_([k[:KEY_MAX] for k in keys]))
            .where(login_failures.c.at > now - self._window)
            .order_by(login_failures.c.at)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        times: dict[str, list[float]] = {}
        for key, at in rows:
            times.setdefault(key, []).append(at)
        return max(
            (
                recent[-self._attempts] + self._window - now
                for recent in times.values()
                if len(recent) >= self._attempts
            ),
            default=0.0,
        )

    async def fail(self, *keys: str) -> None:
        now = self._clock()
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(login_failures).where(login_failures.c.at <= now - self._window)
            )
            await connection.execute(
                login_failures.insert(), [{"key": k[:KEY_MAX], "at": now} for k in keys]
            )

    async def succeed(self, *keys: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(login_failures).where(login_failures.c.key.in_([k[:KEY_MAX] for k in keys]))
            )
