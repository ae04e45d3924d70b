"""Revoked access-token ids shared by every replica: one Redis sorted set scored by each token's
expiry, so it holds only tokens that could still be used."""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

from aibot.core.errors import CoordinationUnavailable


class RedisRevocations:
    def __init__(self, client: redis.Redis, key: str = "aibot:tokens:revoked") -> None:
        self._redis = client
        self._key = key

    async def revoke(self, jti: str, expires_at: float) -> None:
        try:
            await self._redis.zadd(self._key, {jti: expires_at})
        except RedisError as exc:
            raise CoordinationUnavailable(f"token revocation: {exc}") from exc

    async def current(self, now: float) -> set[str]:
        try:
            await self._redis.zremrangebyscore(self._key, "-inf", now)
            members = await self._redis.zrangebyscore(self._key, now, "+inf")
        except RedisError as exc:
            raise CoordinationUnavailable(f"token revocation: {exc}") from exc
        return {m.decode() if isinstance(m, bytes) else str(m) for m in members}
