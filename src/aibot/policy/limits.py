"""Token buckets for message rates and daily counters for token quotas, in this process.

With `redis.url` set, `policy/shared.py` provides the same interface in Redis, so every replica
draws from the same bucket.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

Clock = Callable[[], float]


class SharedStoreDown(Exception):
    """The shared store (Redis) could not be asked; callers let the message through."""


_MAX_LOCAL_KEYS = 100_000


class Limiter(Protocol):
    async def take(self, key: str, capacity: int, per_second: float) -> float:
        """Takes one token; 0 if allowed, else the seconds until one is free (nothing taken)."""

    async def add_usage(self, key: str, amount: int, ttl: float) -> int:
        """Adds to a counter that expires after `ttl`; returns the new total."""

    async def usage(self, key: str) -> int: ...

    async def close(self) -> None: ...


class LocalLimiter:
    """Buckets and counters in this process; the least recently used keys are forgotten."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._counters: OrderedDict[str, tuple[int, float]] = OrderedDict()

    async def take(self, key: str, capacity: int, per_second: float) -> float:
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(capacity), now))
        tokens = min(float(capacity), tokens + (now - at) * per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / per_second
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > _MAX_LOCAL_KEYS:
            self._buckets.popitem(last=False)
        return wait

    async def add_usage(self, key: str, amount: int, ttl: float) -> int:
        now = self._clock()
        total, expires = self._counters.pop(key, (0, now + ttl))
        if expires <= now:
            total, expires = 0, now + ttl
        total += amount
        self._counters[key] = (total, expires)
        if len(self._counters) > _MAX_LOCAL_KEYS:
            self._counters.popitem(last=False)
        return total

    async def usage(self, key: str) -> int:
        total, expires = self._counters.get(key, (0, math.inf))
        return total if expires > self._clock() else 0

    async def close(self) -> None:
        return None
