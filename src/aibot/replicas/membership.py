"""Which replicas are alive, and which one holds each lease (leader election).

Every replica beats into one sorted set scored by its expiry on Redis's own clock, so skewed
host clocks do not matter; a replica missing for one ttl is dead and its unsent replies may be
taken over. A lease (`SET` with a ttl, renewed by its holder) elects the one replica that runs
a receiver which must not run twice, such as a Telegram long poll.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

from aibot.replicas.locks import COMPARE_AND_DELETE

# KEYS[1]: the set; ARGV: me, ttl ms. Returns the members still alive, me included.
_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

# KEYS[1]: the set; ARGV[1]: a replica. 1 while its last beat has not expired, else 0.
_ALIVE = """
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry then return 0 end
local t = redis.call('TIME')
return tonumber(expiry) > tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) and 1 or 0
"""

# KEYS[1]: the lease; ARGV: me, ttl ms. Takes a free lease or renews our own: 1, else 0.
_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class Membership:
    """Implements the core's `Peers`: this replica's name and whether another is alive."""

    def __init__(self, client: redis.Redis, me: str, ttl: float, prefix: str = "aibot:") -> None:
        self.me = me
        self._redis = client
        self._ttl_ms = int(ttl * 1000)
        self._members_key = prefix + "replicas"
        self._lease_prefix = prefix + "leader:"
        self._alive: set[str] = set()
        self._beat = client.register_script(_BEAT)
        self._is_alive = client.register_script(_ALIVE)
        self._lease = client.register_script(_LEASE)
        self._resign = client.register_script(COMPARE_AND_DELETE)

    async def alive(self, replica: str) -> bool:
        """The last beat's answer when it says alive; otherwise Redis is asked now, because a
        replica that started after that beat is not in it yet. While Redis is unreachable
        every replica counts as alive: nothing is taken over from one that may well be."""
        if replica in self._alive:
            return True
        try:
            return bool(await self._is_alive(keys=[self._members_key], args=[replica]))
        except RedisError:
            return True

    async def beat(self) -> int:
        """Returns how many replicas are alive, this one included."""
        members = await self._beat(keys=[self._members_key], args=[self.me, self._ttl_ms])
        self._alive = {m.decode() if isinstance(m, bytes) else str(m) for m in members}
        return len(self._alive)

    async def hold_lease(self, name: str) -> bool:
        """Takes the lease if free or renews it if ours; False while another replica has it."""
        return bool(
            await self._lease(keys=[self._lease_prefix + name], args=[self.me, self._ttl_ms])
        )

    async def resign(self, name: str) -> None:
        """Frees our lease at shutdown so a standby takes over at once, not after the ttl."""
        await self._resign(keys=[self._lease_prefix + name], args=[self.me])

    async def leave(self) -> None:
        await self._redis.zrem(self._members_key, self.me)
