"""One replica's part in a scaled-out gateway: a name, a heartbeat, its locks and its leases.

One background loop (every third of `redis.lease_ttl`) beats, renews the session locks this
replica holds and holds or seeks the lease of each exclusive receiver. While Redis is
unreachable the replica keeps its current roles: receiving twice would be harmless (the
inbox's unique key drops re-deliveries), receiving nowhere would not be.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError

from aibot.channels.base import Channel
from aibot.ops.metrics import Metrics
from aibot.replicas.approvals import RedisApprovals
from aibot.replicas.flags import RedisFlags
from aibot.replicas.locks import RedisSessionLocks
from aibot.replicas.membership import Membership

log = structlog.get_logger("aibot.replicas")


def replica_name() -> str:
    """Host, process and a random part: a restarted process is a new replica, so the old
    one's claims lapse instead of being mistaken for its own."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"


class Coordinator:
    def __init__(
        self, client: redis.Redis, ttl: float, metrics: Metrics, me: str | None = None
    ) -> None:
        self.me = me or replica_name()
        self._metrics = metrics
        self.membership = Membership(client, self.me, ttl)
        self.locks = RedisSessionLocks(client, self.me, ttl, lapsed=metrics.locks_lapsed)
        self.flags = RedisFlags(client)
        self.approvals = RedisApprovals(client)
        self._interval = ttl / 3
        self._exclusive: list[Channel] = []
        self._leading: set[str] = set()
        self._reachable = True
        self._task: asyncio.Task[None] | None = None

    def lead(self, channels: list[Channel]) -> None:
        """Hands over the receivers that must run on one replica at a time."""
        self._exclusive = [channel for channel in channels if channel.exclusive]
        for channel in self._exclusive:
            self._metrics.receiving.labels(channel.name).set(0)

    def role(self, channel: str) -> str:
        return "receiving" if channel in self._leading else "standby"

    async def start(self) -> None:
        """Beats once before the outbox starts (so live peers' replies are not taken over),
        then keeps beating in the background."""
        await self.tick()
        self._task = asyncio.create_task(self._run(), name="replica-coordinator")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for name in list(self._leading):
            with contextlib.suppress(RedisError):
                await self.membership.resign(name)
        self._leading.clear()
        with contextlib.suppress(RedisError):
            await self.membership.leave()
        await self.locks.close()

    async def _run(self) -> None:
        """Survives anything one tick raises: if this loop ended, the locks held for work in
        progress would lapse and other replicas would take over a live replica's sessions."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.tick()
            except Exception:
                log.exception("replica coordination tick failed; next tick retries")

    async def tick(self) -> None:
        try:
            await self.locks.carry_stamps()
            self._metrics.replicas_alive.set(await self.membership.beat())
            await self.locks.renew()
            await self._hold_leases()
        except RedisError as exc:
            self._metrics.coordination_up.set(0)
            if self._reachable:
                log.error(
                    "Redis unreachable: conversations wait, receivers keep their roles",
                    error=str(exc),
                )
            self._reachable = False
            return
        if not self._reachable:
            log.info("Redis reachable again")
        self._reachable = True
        self._metrics.coordination_up.set(1)

    async def _hold_leases(self) -> None:
        for channel in self._exclusive:
            mine = await self.membership.hold_lease(channel.name)
            if mine and channel.name not in self._leading:
                self._leading.add(channel.name)
                self._metrics.receiving.labels(channel.name).set(1)
                log.info("this replica receives now", channel=channel.name, replica=self.me)
                await channel.start()
            elif not mine and channel.name in self._leading:
                self._leading.discard(channel.name)
                self._metrics.receiving.labels(channel.name).set(0)
                log.warning("another replica took over receiving", channel=channel.name)
                await channel.stop()
