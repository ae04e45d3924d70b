"""Per-session locks in Redis, so one conversation is answered by one replica at a time.

A lock is `SET key token NX PX ttl`; its holder's coordinator renews every held lock together
(one script call per tick) while the work runs, so a lock outlives a slow model but lapses
`ttl` after its replica dies. A lapsed lock can let a second replica start the same message;
the store's fenced commit (the inbox row must still be pending) lets only one answer land.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

from aibot.core.errors import CoordinationUnavailable

log = structlog.get_logger("aibot.replicas")

# KEYS[1]: key; ARGV[1]: the holder's token. Deletes the key only if that holder still has it.
COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# KEYS: held locks; ARGV[1]: ttl in ms, ARGV[1 + i]: the token of KEYS[i]. Returns lost keys.
_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
  else
    table.insert(lost, key)
  end
end
return lost
"""

# Waiting for a lock polls; a contended session is rare (one conversation on two replicas at
# once), so a short poll costs less than a pub/sub connection per replica.
_POLL_MAX = 0.05


class RedisSessionLocks:
    def __init__(
        self, client: redis.Redis, me: str, ttl: float, prefix: str = "aibot:session:"
    ) -> None:
        self._redis = client
        self._me = me
        self._ttl_ms = int(ttl * 1000)
        self._prefix = prefix
        self._tokens = itertools.count()
        self._held: dict[str, str] = {}
        self._release = client.register_script(COMPARE_AND_DELETE)
        self._renew = client.register_script(_RENEW)

    @asynccontextmanager
    async def hold(self, session_key: str, *, wait: bool) -> AsyncIterator[bool]:
        key = self._prefix + session_key
        token = f"{self._me}:{next(self._tokens)}"
        if not await self._acquire(key, token, wait):
            yield False
            return
        self._held[key] = token
        try:
            yield True
        finally:
            self._held.pop(key, None)
            try:
                await self._release(keys=[key], args=[token])
            except RedisError as exc:  # the lock lapses by itself after ttl
                log.warning("could not release a session lock", error=str(exc))

    async def _acquire(self, key: str, token: str, wait: bool) -> bool:
        """Waits at most two lease times: long enough for a dead holder's lock to lapse."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (2 * self._ttl_ms / 1000 if wait else 0.0)
        delay = 0.005
        while True:
            try:
                if await self._redis.set(key, token, nx=True, px=self._ttl_ms):
                    return True
            except RedisError as exc:
                raise CoordinationUnavailable(f"session lock: {exc}") from exc
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    async def renew(self) -> None:
        """Extends every lock this replica holds; one that another holder took is logged (the
        fenced commit keeps the answer single)."""
        if not self._held:
            return
        held = list(self._held.items())
        lost = await self._renew(
            keys=[key for key, _ in held], args=[self._ttl_ms, *(token for _, token in held)]
        )
        for key in lost:
            log.warning("session lock lapsed while held", session=_text(key)[len(self._prefix) :])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
