"""Channel pauses shared by all replicas: a pause set in one console holds everywhere."""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

from aibot.core.errors import CoordinationUnavailable


class RedisFlags:
    def __init__(self, client: redis.Redis, key: str = "aibot:paused") -> None:
        self._redis = client
        self._key = key

    async def set_paused(self, channel: str, paused: bool) -> None:
        try:
            if paused:
                await self._redis.sadd(self._key, channel)
            else:
                await self._redis.srem(self._key, channel)
        except RedisError as exc:
            raise CoordinationUnavailable(f"shared pause: {exc}") from exc

    async def paused(self) -> set[str]:
        try:
            members = await self._redis.smembers(self._key)
        except RedisError as exc:
            raise CoordinationUnavailable(f"shared pause: {exc}") from exc
        return {m.decode() if isinstance(m, bytes) else str(m) for m in members}
