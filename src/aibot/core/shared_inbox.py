"""The inbox when several replicas share one store: any replica may answer any conversation,
one replica at a time per conversation, oldest message first.

A replica that accepts a message does not answer that message as such: it takes the session's
lock (waiting while another replica holds it) and answers whatever of the session is pending,
in arrival order. Waiting matters: if the holder read the session's rows before this message
was committed, this replica's turn after it picks the message up, so nothing is stranded until
the rescan. The rescan only tries locks (it never waits), and is what finishes the messages of
a replica that died: its locks lapse after `redis.lease_ttl`.

Why Redis locks and not `SELECT … FOR UPDATE SKIP LOCKED`: a row lock lives in a transaction,
and a session is held for the whole model call (seconds to minutes), which would pin one
PostgreSQL connection per conversation in flight. The lock's lapse is made safe by fencing:
the inbox row must still be pending when the answer commits (see `Repository(fenced=True)`).

The drain's first query also brings the conversation when this replica's cached one is not
current (`SessionMemory.current`: no stamp vouches for it), for the first message answered: on
PostgreSQL both are one statement (issue 20: before, the drain was a query through the engine
and the conversation read a second round trip). That read serves only that message
(`SessionMemory.prime`, dropped once it is done); the drain's later messages follow this
holder's own writes as before.

A batch (an album) is answered when the drain finds it complete (`batches.complete`): until
then the drain stops before it, so nothing of the session overtakes it, and this replica holds
it for the rest of its window.
"""

from __future__ import annotations

from typing import Any

import structlog

from aibot.core.batches import complete, inbound_from_row, merged, pieces_of
from aibot.core.coordination import SessionLocks, SharedFlags
from aibot.core.errors import CoordinationUnavailable, QueueFull
from aibot.core.inbox import Inbox, InboxStore
from aibot.core.messages import Inbound
from aibot.core.sessions import SessionMemory

log = structlog.get_logger("aibot.inbox")

DRAIN_BATCH = 50


class SharedInbox(Inbox):
    def __init__(
        self,
        store: InboxStore,
        *args: Any,
        locks: SessionLocks,
        flags: SharedFlags,
        memory: SessionMemory | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(store, *args, **kwargs)
        self._locks = locks
        self._flags = flags
        self._memory = memory
        # Sessions with a drain queued and not yet started, and whether it may wait for the
        # lock; one queued drain per session covers every message accepted meanwhile.
        self._queued: dict[str, bool] = {}

    async def pause(self, channel: str) -> None:
        await self._flags.set_paused(channel, True)
        await super().pause(channel)

    async def resume(self, channel: str) -> int:
        await self._flags.set_paused(channel, False)
        return await super().resume(channel)

    def _schedule(self, inbound: Inbound) -> None:
        if inbound.batch is not None:
            self._batches.hold(
                inbound.session_key, inbound.batch, inbound.channel, inbound.received_at
            )
            return
        self._schedule_session(inbound.session_key, inbound.channel, wait=True)

    def _release(self, session_key: str, batch: str, channel: str) -> None:
        self._schedule_session(session_key, channel, wait=True)

    def _schedule_session(self, session_key: str, channel: str, *, wait: bool) -> None:
        if channel in self.paused:
            return  # stays pending until a resume on any replica
        if session_key in self._queued:
            self._queued[session_key] = self._queued[session_key] or wait
            return
        try:
            future = self._service.dispatcher.submit(session_key, lambda: self._drain(session_key))
        except QueueFull:
            return  # stays pending in the store; a rescan schedules it when there is room
        self._queued[session_key] = wait
        future.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def _drain(self, session_key: str) -> None:
        wait = self._queued.pop(session_key, True)
        try:
            async with self._locks.hold(session_key, wait=wait) as held:
                if held:
                    await self._answer_pending(session_key)
        except CoordinationUnavailable as exc:
            log.warning(
                "session lock unavailable; the message waits for the next rescan",
                session=session_key,
                error=str(exc),
            )

    async def _answer_pending(self, session_key: str) -> None:
        memory = self._memory
        # The first query also reads the conversation when the cache is not current, for the
        # first message answered; the drain's later messages see this holder's own writes.
        keep = None if memory is None or memory.current(session_key) else memory.keep
        try:
            await self._answer_rows(session_key, keep)
        finally:
            if memory is not None:
                memory.unprime(session_key)

    async def _answer_rows(self, session_key: str, keep: int | None) -> None:
        while True:
            rows, loaded = await self._store.pending_with_session(session_key, DRAIN_BATCH, keep)
            if loaded is not None and self._memory is not None:
                self._memory.prime(session_key, loaded)
            keep = None
            answered: set[int] = set()
            for row in rows:
                if row.id in answered:
                    continue
                if row.channel in self.paused:
                    return
                if row.batch is None:
                    await self._process(inbound_from_row(row))
                    self._done_with_read(session_key)
                    continue
                if not complete(rows, row.batch, self._batches.window, self._clock()):
                    newest = max(piece.received_at for piece in pieces_of(rows, row.batch))
                    self._batches.hold(session_key, row.batch, row.channel, newest)
                    return  # the rest of the session waits for the batch
                pieces = pieces_of(rows, row.batch)
                answered.update(piece.id for piece in pieces)
                await self._process(merged(pieces))
                self._done_with_read(session_key)
            if len(rows) < DRAIN_BATCH:
                return

    def _done_with_read(self, session_key: str) -> None:
        """A read made with the drain serves only the message answered right after it."""
        if self._memory is not None:
            self._memory.unprime(session_key)

    async def rescan(self, limit: int = 500) -> int:
        """Picks up the pause set, then tries each pending session's lock: a session another
        replica is answering is skipped, one whose replica died is taken over."""
        try:
            self.paused = await self._flags.paused()
        except CoordinationUnavailable as exc:
            log.warning("could not read the shared pauses", error=str(exc))
        rows = await self._store.pending_inbox(limit, set(), frozenset(self.paused))
        sessions = dict.fromkeys((row.session_key, row.channel) for row in rows)
        for session_key, channel in sessions:
            self._schedule_session(session_key, channel, wait=False)
        return len(sessions)
