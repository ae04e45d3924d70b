"""Token buckets for message rates and daily counters for token quotas.

In-process by default; in Redis when `redis.url` is set, so every replica draws from the same
bucket. The Redis bucket is one Lua script (read, refill, take, write happen atomically) on
Redis's own clock, so replicas with skewed clocks still agree.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as redis

Clock = Callable[[], float]
_MAX_LOCAL_KEYS = 100_000

# KEYS[1]: bucket; ARGV: capacity, refill per second. Returns the wait in ms (0: taken).
_BUCKET_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return wait
"""


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


class RedisLimiter:
    def __init__(self, client: redis.Redis, prefix: str = "aibot:limit:") -> None:
        self._redis = client
        self._prefix = prefix
        self._bucket = client.register_script(_BUCKET_LUA)

    async def take(self, key: str, capacity: int, per_second: float) -> float:
        wait_ms = await self._bucket(keys=[self._prefix + key], args=[capacity, per_second])
        return int(wait_ms) / 1000

    async def add_usage(self, key: str, amount: int, ttl: float) -> int:
        name = self._prefix + "use:" + key
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(name, amount)
            pipe.expire(name, math.ceil(ttl), nx=True)
            total, _ = await pipe.execute()
        return int(total)

    async def usage(self, key: str) -> int:
        value = await self._redis.get(self._prefix + "use:" + key)
        return int(value or 0)

    async def close(self) -> None:
        await self._redis.aclose()
