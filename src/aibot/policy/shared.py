"""The rate limiter and answer cache in Redis, for several replicas (`redis.url` set).

Imported only when Redis is configured, so a single-process gateway never loads the client.
The bucket is one Lua script (read, refill, take, write happen atomically) on Redis's own
clock, so replicas with skewed clocks still agree. Redis errors surface as `SharedStoreDown`.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
from redis.exceptions import RedisError

from aibot.policy.limits import SharedStoreDown

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


def client_for(url: str) -> redis.Redis:
    return redis.from_url(url)


@asynccontextmanager
async def _reported() -> AsyncIterator[None]:
    try:
        yield
    except RedisError as exc:
        raise SharedStoreDown(str(exc)) from exc


class RedisLimiter:
    def __init__(self, client: redis.Redis, prefix: str = "aibot:limit:") -> None:
        self._redis = client
        self._prefix = prefix
        self._bucket = client.register_script(_BUCKET_LUA)

    async def take(self, key: str, capacity: int, per_second: float) -> float:
        async with _reported():
            wait_ms = await self._bucket(keys=[self._prefix + key], args=[capacity, per_second])
        return int(wait_ms) / 1000

    async def add_usage(self, key: str, amount: int, ttl: float) -> int:
        name = self._prefix + "use:" + key
        async with _reported(), self._redis.pipeline(transaction=True) as pipe:
            pipe.incrby(name, amount)
            pipe.expire(name, math.ceil(ttl), nx=True)
            total, _ = await pipe.execute()
        return int(total)

    async def usage(self, key: str) -> int:
        async with _reported():
            value = await self._redis.get(self._prefix + "use:" + key)
        return int(value or 0)

    async def close(self) -> None:
        await self._redis.aclose()


class RedisAnswerCache:
    def __init__(self, client: redis.Redis, prefix: str = "aibot:cache:") -> None:
        self._redis = client
        self._prefix = prefix

    async def get(self, key: str) -> str | None:
        async with _reported():
            value = await self._redis.get(self._prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, key: str, answer: str, ttl: float) -> None:
        async with _reported():
            await self._redis.set(self._prefix + key, answer, px=int(ttl * 1000))
