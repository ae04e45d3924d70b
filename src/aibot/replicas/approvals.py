"""Tool questions shared by all replicas (`core.coordination.ApprovalBoard`) in Redis.

The asking replica writes the question under its session and under its token, both expiring a
little after the question's timeout; the replica that gets the answer (a typed `/approve`, or a
button press, routed anywhere by the load balancer) checks it is the asked user's and writes
the decision with NX, so only the first answer counts; the asking replica polls for it.
"""

from __future__ import annotations

import orjson
import redis.asyncio as redis


class RedisApprovals:
    def __init__(self, client: redis.Redis, prefix: str = "aibot:approval") -> None:
        self._redis = client
        self._prefix = prefix

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}:{kind}:{name}"

    async def open(
        self, session_key: str, token: str, user_id: str, channel: str, question: str, ttl: float
    ) -> None:
        record = orjson.dumps(
            {"token": token, "user": user_id, "channel": channel, "question": question}
        )
        seconds = max(1, round(ttl))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key("session", session_key), record, ex=seconds)
            pipe.set(self._key("token", token), record, ex=seconds)
            await pipe.execute()

    async def settle(
        self,
        *,
        channel: str,
        user_id: str,
        approve: bool,
        session_key: str | None = None,
        token: str | None = None,
    ) -> str | None:
        if token is not None:
            raw = await self._redis.get(self._key("token", token))
        elif session_key is not None:
            raw = await self._redis.get(self._key("session", session_key))
        else:
            return None
        if raw is None:
            return None
        record = orjson.loads(raw)
        if record.get("user") != user_id or record.get("channel") != channel:
            return None
        decided = await self._redis.set(
            self._key("decision", str(record["token"])), "1" if approve else "0", nx=True, ex=3600
        )
        return str(record.get("question", "")) if decided else None

    async def decision(self, token: str) -> bool | None:
        value = await self._redis.get(self._key("decision", token))
        return None if value is None else value in (b"1", "1")

    async def close(self, session_key: str, token: str) -> None:
        await self._redis.delete(
            self._key("session", session_key),
            self._key("token", token),
            self._key("decision", token),
        )
