"""The durable outbox: replies are delivered with retries, in order per session, never late.

Delivery is at-least-once: a reply is marked sent after the platform accepted it, so only a crash
between the two can repeat it (channels pass the outbox id as an idempotency key where the
platform supports one). With several replicas each reply is first claimed by one of them. A reply
older than `outbox.max_age` is expired rather than sent, so an outage does not end with a flood
of stale answers; after `max_attempts` it is dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Any, Protocol

import structlog

from aibot.config import OutboxConfig
from aibot.core.coordination import Peers
from aibot.core.directory import ChannelDirectory
from aibot.core.errors import SendError
from aibot.core.messages import Outbound, OutboxRow
from aibot.core.sessions import WriteOp, Writer
from aibot.ops.metrics import Metrics

log = structlog.get_logger("aibot.outbox")


class OutboxStore(Protocol):
    async def pending_outbox(self, limit: int) -> list[OutboxRow]: ...

    def update_outbox(self, outbox_id: int, now: float, **values: Any) -> WriteOp: ...

    def claim_outbox(self, outbox_id: int, me: str, seen: str | None) -> WriteOp: ...


class Outbox:
    def __init__(
        self,
        store: OutboxStore,
        writer: Writer,
        channels: ChannelDirectory,
        config: OutboxConfig,
        metrics: Metrics,
        clock: Callable[[], float],
        *,
        batch: int = 500,
        max_parallel: int = 32,
        idle_poll: float = 2.0,
        peers: Peers | None = None,
        mask: Callable[[str], str] = str,
    ) -> None:
        self._store = store
        self._mask = mask  # configured secrets out of every reply a platform receives
        self._peers = peers
        self._writer = writer
        self._channels = channels
        self._config = config
        self._metrics = metrics
        self._clock = clock
        self._batch = batch
        self._parallel = asyncio.Semaphore(max_parallel)
        self._idle_poll = idle_poll
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Replies the platform accepted whose `sent` could not be committed (the store went
        # down meanwhile): later passes retry the commit instead of sending them again.
        self._unrecorded: set[int] = set()

    def notify(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def stop(self, grace: float = 5.0) -> None:
        """Ends the loop, then makes one last bounded pass so finished answers go out now
        rather than after the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await asyncio.wait_for(self.deliver_due(), grace)
        except Exception as exc:  # pending rows stay in the store for the next start
            log.warning("final outbox pass incomplete", error=repr(exc))

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                next_due = await self.deliver_due()
            except Exception:
                log.exception("outbox pass failed")
                next_due = None
            now = self._clock()
            wait = (
                self._idle_poll
                if next_due is None
                else min(self._idle_poll, max(0.0, next_due - now))
            )
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def deliver_due(self) -> float | None:
        """One pass: sends what is due; returns when the next not-yet-due reply will be."""
        rows = await self._store.pending_outbox(self._batch)
        self._metrics.outbox_pending.set(len(rows))
        self._metrics.outbox_oldest.set(
            max(0.0, self._clock() - min(row.created_at for row in rows)) if rows else 0.0
        )
        by_session: dict[str, list[OutboxRow]] = {}
        for row in rows:
            by_session.setdefault(row.session_key, []).append(row)
        results = await asyncio.gather(
            *(self._deliver_session(session_rows) for session_rows in by_session.values())
        )
        waits = [r for r in results if r is not None]
        return min(waits) if waits else None

    async def _deliver_session(self, rows: list[OutboxRow]) -> float | None:
        """Sends a session's replies in order, stopping at the first that must wait."""
        for row in rows:
            if self._peers is not None and not await self._claim(row, self._peers):
                return None  # its replica is on it; the rest of the session waits behind it
            if row.next_attempt_at > self._clock():
                return row.next_attempt_at
            async with self._parallel:
                retry_at = await self._deliver(row)
            if retry_at is not None:
                return retry_at
        return None

    async def _claim(self, row: OutboxRow, peers: Peers) -> bool:
        """With several replicas a reply is sent by the one that claims it; a dead replica's
        claims are taken over (a crash between the platform's acceptance and the commit is
        the only way a reply goes out twice, as in one process)."""
        if row.owner == peers.me:
            return True
        if row.owner is not None and await peers.alive(row.owner):
            return False
        (claimed,) = await self._writer.submit(
            self._store.claim_outbox(row.id, peers.me, row.owner)
        )
        return claimed is not None

    async def _deliver(self, row: OutboxRow) -> float | None:
        if row.id not in self._unrecorded:
            accepted, retry_at = await self._send(row)
            if not accepted:
                return retry_at
            self._unrecorded.add(row.id)
        await self._finish(row, "sent", None)
        self._unrecorded.discard(row.id)
        self._metrics.messages_out.labels(row.channel, "sent").inc()
        return None

    async def _send(self, row: OutboxRow) -> tuple[bool, float | None]:
        """Whether the platform accepted the reply, and else when to try again (None: never,
        the row was expired or dead-lettered)."""
        if self._clock() - row.created_at > self._config.max_age:
            # Counted before the commit, so whoever sees the row expired sees the count.
            self._metrics.outbox_expired.labels(row.channel).inc()
            await self._finish(row, "expired", "older than outbox.max_age")
            log.warning(
                "reply expired before it could be sent", outbox_id=row.id, channel=row.channel
            )
            return False, None
        sender = self._channels.sender(row.channel)
        if sender is None:
            await self._finish(row, "dead", f"no sender for channel '{row.channel}'")
            return False, None
        outbound = Outbound(
            row.channel,
            row.session_key,
            self._mask(row.text),
            row.target,
            row.created_at,
            inbox_id=row.inbox_id,
            outbox_id=row.id,
            attempts=row.attempts,
        )
        try:
            await sender.send(outbound)
        except SendError as exc:
            return False, await self._failed(row, exc)
        except Exception as exc:
            log.exception("channel sender crashed", outbox_id=row.id, channel=row.channel)
            return False, await self._failed(row, SendError(repr(exc)))
        return True, None

    async def _failed(self, row: OutboxRow, exc: SendError) -> float | None:
        attempts = row.attempts + 1
        if exc.permanent or attempts >= self._config.max_attempts:
            await self._finish(row, "dead", str(exc), attempts=attempts)
            self._metrics.messages_out.labels(row.channel, "dead").inc()
            log.error(
                "reply dead-lettered",
                outbox_id=row.id,
                channel=row.channel,
                attempts=attempts,
                error=str(exc),
            )
            return None
        delay = (
            exc.retry_after
            if exc.retry_after is not None
            else min(self._config.backoff_max, self._config.backoff_base * 2 ** (attempts - 1))
            * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security
        )
        retry_at = self._clock() + delay
        await self._writer.submit(
            self._store.update_outbox(
                row.id,
                self._clock(),
                attempts=attempts,
                next_attempt_at=retry_at,
                last_error=str(exc)[:500],
            )
        )
        self._metrics.messages_out.labels(row.channel, "retry").inc()
        log.warning(
            "reply send failed, will retry",
            outbox_id=row.id,
            channel=row.channel,
            attempts=attempts,
            delay=round(delay, 2),
            error=str(exc),
        )
        return retry_at

    async def _finish(
        self, row: OutboxRow, status: str, error: str | None, attempts: int | None = None
    ) -> None:
        await self._writer.submit(
            self._store.update_outbox(
                row.id,
                self._clock(),
                status=status,
                last_error=error,
                attempts=row.attempts + 1 if attempts is None else attempts,
            )
        )
