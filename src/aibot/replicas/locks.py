"""Per-session locks in Redis, so one conversation is answered by one replica at a time.

A lock is `SET key token NX PX ttl`; its holder's coordinator renews every held lock together
(one script call per tick) while the work runs, so a lock outlives a slow model but lapses
`ttl` after its replica dies. A lapsed lock can let a second replica start the same message;
the store's fenced commit (the inbox row must still be pending) lets only one answer land.

The conversation stamp travels with the lock (`core.coordination.SessionStamps`): taking the
lock reads it in the same script call, releasing it writes the holder's in the same call (both
over a pipelined connection of the locks' own: replicas/script_line.py). So a
replica whose cached conversation carries the stamp it finds uses the cache without asking the
store; before, every message in scale-out mode read the conversation row to compare its
`updated_at` (issue 20). A stamp lives `STAMP_TTL`: an idle conversation is read again, which
also covers rows the maintenance jobs delete days later. A holder that only appended turns
leaves, with its stamp, the earlier stamp its conversation extends and how many turns it
appended (`core.coordination.Appended`), so a replica whose cache is at that earlier stamp reads
only the new turns; the value stays one string the scripts pass through untouched.

A lock found lapsed while held — at a renewal or at its release — is counted once per hold
(`aibot_session_locks_lapsed_total`): the answer stays single, but another replica may have
called the model for the same message again, which only this count shows.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

from aibot.core.coordination import Appended
from aibot.core.errors import CoordinationUnavailable
from aibot.ops.metrics import Counter
from aibot.replicas.script_line import ScriptLine

log = structlog.get_logger("aibot.replicas")

# KEYS[1]: key; ARGV[1]: the holder's token. Deletes the key only if that holder still has it.
COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

STAMP_TTL = 3600.0  # seconds a stamp vouches for an idle conversation
LAPSED = "lapsed"  # the mark a holder that lost its lock leaves: no stamp matches it

# KEYS[1]: the lock, KEYS[2]: the stamp; ARGV[1]: the token, ARGV[2]: ttl in ms. Takes the lock
# and the stamp with it: {1, stamp or ''}, or {0, ''} when another holder has the lock. While
# the lock is held there is no stamp: a holder that dies (its writes may have landed) leaves
# none, so the next holder reads the store.
_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local stamp = redis.call('GET', KEYS[2]) or ''
  redis.call('DEL', KEYS[2])
  return {1, stamp}
end
return {0, ''}
"""

# KEYS[1]: the lock, KEYS[2]: the stamp; ARGV[1]: the token, ARGV[2]: the stamp to leave ('' for
# none), ARGV[3]: its ttl in ms. A holder that lost the lock marks the stamp lapsed (it may have
# written after the next holder read); one that kept it leaves its stamp unless the stamp was
# marked meanwhile (by a holder that lost the lock, or a chat's reset).
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  redis.call('SET', KEYS[2], 'lapsed', 'PX', ARGV[3])
  return 0
end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
end
return 1
"""

# KEYS[1]: the replicas alive (Membership), KEYS[2]: those that carry stamps, KEYS[3]: the stamps'
# epoch; ARGV[1]: me, ARGV[2]: ttl in ms. Returns the epoch while every replica alive carries
# stamps; otherwise starts a new epoch (what was left before is not trusted again) and returns
# nil. A replica of a version before the stamps writes conversations without them.
_CARRY = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')) do
  if not redis.call('ZSCORE', KEYS[2], member) then
    redis.call('INCR', KEYS[3])
    return false
  end
end
return redis.call('GET', KEYS[3]) or '0'
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


@dataclass(slots=True)
class _Held:
    token: str
    leave: str  # the stamp the release leaves ('' for none); at first the one taken
    lapsed: bool = False  # a renewal found another holder (or none): counted already
    # `leave` as `_left` reads it under the epoch it was read in (a message asks 3–4 times).
    read: tuple[str | None, tuple[float, Appended | None] | None] | None = None


class RedisSessionLocks:
    def __init__(
        self,
        client: redis.Redis,
        me: str,
        ttl: float,
        prefix: str = "aibot:session:",
        stamps: str = "aibot:stamp:",
        lapsed: Counter | None = None,
    ) -> None:
        self._redis = client
        self._lapsed = lapsed
        self._me = me
        self._ttl_ms = int(ttl * 1000)
        self._stamp_ttl_ms = int(STAMP_TTL * 1000)
        self._prefix = prefix
        self._stamps = stamps
        self._carry_keys = ["aibot:replicas", "aibot:replicas:stamped", "aibot:stamp-epoch"]
        # The stamps' epoch while every replica carries them; None: none trusted, none left.
        self.epoch: str | None = None
        self._tokens = itertools.count()
        self._held: dict[str, _Held] = {}
        # The two calls every message makes go over a pipelined line of their own.
        self._line = ScriptLine(client)
        self._take = client.register_script(_ACQUIRE)
        self._release = client.register_script(_RELEASE)
        self._renew = client.register_script(_RENEW)
        self._carry = client.register_script(_CARRY)

    @asynccontextmanager
    async def hold(self, session_key: str, *, wait: bool) -> AsyncIterator[bool]:
        keys = [self._prefix + session_key, self._stamps + session_key]
        token = f"{self._me}:{next(self._tokens)}"
        taken = await self._acquire(keys, token, wait)
        if taken is None:
            yield False
            return
        held = self._held[keys[0]] = _Held(token, taken)
        try:
            yield True
        finally:
            self._held.pop(keys[0], None)
            try:
                kept = await self._line.call(
                    self._release, keys, [token, held.leave, self._stamp_ttl_ms]
                )
            except RedisError as exc:  # the lock lapses by itself after ttl
                log.warning("could not release a session lock", error=str(exc))
            else:
                if not kept and not held.lapsed:
                    log.warning("session lock lapsed while held", session=session_key)
                    self._count_lapsed()

    def seen(self, session_key: str) -> float | None:
        left = self._left(session_key)
        return None if left is None else left[0]

    def appended(self, session_key: str) -> Appended | None:
        left = self._left(session_key)
        return None if left is None else left[1]

    def leave(
        self, session_key: str, stamp: float | None, appended: Appended | None = None
    ) -> None:
        held = self._held.get(self._prefix + session_key)
        if held is None:
            return
        held.read = None
        if stamp is None or self.epoch is None:
            held.leave = ""
        elif appended is None:
            held.leave = f"{self.epoch}:{stamp!r}"
        else:
            held.leave = f"{self.epoch}:{stamp!r}:{appended.since!r}:{appended.turns}"
            if appended.carried is not None:
                held.leave += ":" + appended.carried

    def _left(self, session_key: str) -> tuple[float, Appended | None] | None:
        """The held lock's stamp as `leave` writes it: `epoch:stamp`, or with what was
        appended, `epoch:stamp:since:turns` and, when the turns travel, `:carried` (which may
        hold colons itself); None when not held, none, lapsed, or another epoch. (A replica
        of a version before reads a longer form than its own as no stamp.)"""
        held = self._held.get(self._prefix + session_key)
        if held is None or self.epoch is None:
            return None
        if held.read is None or held.read[0] != self.epoch:
            held.read = (self.epoch, self._read(held.leave))
        return held.read[1]

    def _read(self, left: str) -> tuple[float, Appended | None] | None:
        epoch, *fields = left.split(":", 4)
        if epoch != self.epoch or len(fields) not in (1, 3, 4):
            return None
        try:
            stamp = float(fields[0])
            if not fields[1:]:
                return stamp, None
            carried = fields[3] if fields[3:] else None
            return stamp, Appended(float(fields[1]), int(fields[2]), carried)
        except ValueError:
            return None

    async def carry_stamps(self) -> None:
        """Beats as a replica that carries stamps and learns whether all replicas do (each
        coordinator tick, before the membership beat): while a replica of an earlier version
        is alive (a rolling upgrade), conversations are read from the store every time."""
        epoch = await self._carry(keys=self._carry_keys, args=[self._me, self._ttl_ms])
        self.epoch = None if epoch is None else _text(epoch)

    async def drop_chat(self, chat_key: str) -> None:
        """Marks the stamps left by released locks and those held ones will leave."""
        members = re.sub(r"([*?\[\]\\])", r"\\\1", chat_key) + ":*"
        try:
            keys = {self._stamps + chat_key}
            for prefix in (self._stamps, self._prefix):
                async for key in self._redis.scan_iter(match=prefix + members, count=1000):
                    keys.add(self._stamps + _text(key)[len(prefix) :])
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.set(key, LAPSED, px=self._stamp_ttl_ms)
                await pipe.execute()
        except RedisError as exc:  # the stamps lapse by themselves after STAMP_TTL
            log.warning("could not mark a reset chat's stamps", chat=chat_key, error=str(exc))

    async def _acquire(self, keys: list[str], token: str, wait: bool) -> str | None:
        """The stamp found ('' for none) once the lock is taken; None when `wait` is off and
        another holder has it, or after two lease times (long enough for a dead holder's lock
        to lapse)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (2 * self._ttl_ms / 1000 if wait else 0.0)
        delay = 0.005
        while True:
            try:
                taken, stamp = await self._line.call(self._take, keys, [token, self._ttl_ms])
            except RedisError as exc:
                raise CoordinationUnavailable(f"session lock: {exc}") from exc
            if taken:
                return _text(stamp)
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, _POLL_MAX)

    async def close(self) -> None:
        """Closes the lock's own connection (its locks lapse or were released)."""
        await self._line.close()

    async def renew(self) -> None:
        """Extends every lock this replica holds; one that lapsed (another holder took it, or
        none has it) is logged and counted (the fenced commit keeps the answer single)."""
        if not self._held:
            return
        held = list(self._held.items())
        lost = await self._renew(
            keys=[key for key, _ in held], args=[self._ttl_ms, *(h.token for _, h in held)]
        )
        sent = dict(held)
        for key in map(_text, lost):
            now = self._held.get(key)
            if now is None or now is not sent[key]:
                continue  # released while the renewal was on its way: not lost
            log.warning("session lock lapsed while held", session=key[len(self._prefix) :])
            if not now.lapsed:
                now.lapsed = True
                self._count_lapsed()

    def _count_lapsed(self) -> None:
        if self._lapsed is not None:
            self._lapsed.inc()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
