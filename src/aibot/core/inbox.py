"""The durable inbox: platform messages are committed before they are acknowledged.

`accept` returns only after the row is durable, so a receiver that answers its platform
afterwards can never lose a message; the unique (channel, message_id) key turns re-deliveries
into no-ops. Processing commits the turns, the inbox status and the reply's outbox row in one
transaction, so a crash at any point ends with the message either pending (and redone) or
answered, never both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Protocol

import structlog

from aibot.core.approvals import Approvals
from aibot.core.batches import BATCH_READ, BatchHolds, inbound_from_row, merged, pieces_of
from aibot.core.directory import ChannelDirectory
from aibot.core.errors import QueueFull, StaleWrite
from aibot.core.message_size import clip
from aibot.core.messages import Attachment, Inbound, InboxRow, ReplyTarget
from aibot.core.notices import failure_notice
from aibot.core.outbox_rows import OutboxRows
from aibot.core.pipeline import TurnContext
from aibot.core.service import ChatService
from aibot.core.sessions import Loaded, WriteOp, Writer
from aibot.i18n import pick
from aibot.ops.metrics import Metrics

log = structlog.get_logger("aibot.inbox")


class InboxStore(OutboxRows, Protocol):
    async def pending_inbox(
        self, limit: int, exclude_ids: set[int], exclude_channels: frozenset[str] = ...
    ) -> list[InboxRow]: ...

    async def pending_for_session(self, session_key: str, limit: int) -> list[InboxRow]: ...

    async def pending_with_session(
        self, session_key: str, limit: int, keep: int | None
    ) -> tuple[list[InboxRow], Loaded | None]: ...

    async def inbox_backlog(self) -> tuple[int, float | None]: ...

    def accept_inbox(
        self,
        channel: str,
        message_id: str,
        session_key: str,
        user_id: str,
        text: str,
        target: ReplyTarget,
        now: float,
        *,
        principal: str | None = None,
        request_id: str | None = None,
        attachments: tuple[Attachment, ...] = (),
        batch: str | None = None,
    ) -> WriteOp: ...

    def finish_inbox(
        self, inbox_id: int, status: str, now: float, error: str | None = None
    ) -> WriteOp: ...


class Inbox:
    """The message's channel, looked up in `channels`, wraps the work on it: it may show
    "typing…" meanwhile, and may yield a sink for the answer's tokens to stream them.

    A channel named in `paused` still has its messages accepted (committed, deduplicated, so
    the platform gets its acknowledgement) but they stay pending until `resume`. With several
    replicas, `SharedInbox` keeps the set in Redis so that every replica obeys it.

    The pieces of a batch (an album) are held for `batch_window` seconds after the newest one
    and answered together (core/batches.py).
    """

    def __init__(
        self,
        store: InboxStore,
        writer: Writer,
        service: ChatService,
        metrics: Metrics,
        on_reply: Callable[[], None],
        clock: Callable[[], float],
        *,
        rescan_interval: float = 5.0,
        channels: ChannelDirectory | None = None,
        approvals: Approvals | None = None,
        batch_window: float = 1.5,
    ) -> None:
        self._store = store
        self._approvals = approvals
        self._writer = writer
        self._service = service
        self._on_reply = on_reply
        self._clock = clock
        self._rescan_interval = rescan_interval
        self._channels = ChannelDirectory() if channels is None else channels
        self._metrics = metrics
        self._in_flight: set[int] = set()
        # Rows finished since a rescan's query ran must not be scheduled again from its result.
        self._recently_done: deque[int] = deque(maxlen=10_000)
        self._task: asyncio.Task[None] | None = None
        self.paused: set[str] = set()
        self._batches = BatchHolds(batch_window, clock, self._release)
        self._released: set[tuple[str, str]] = set()  # batches waiting in their lane

    @property
    def approvals(self) -> Approvals | None:
        """The tool questions waiting on users: a platform's approve/deny buttons answer here,
        as typed `/approve` and `/deny` do through `accept`."""
        return self._approvals

    @property
    def max_message_chars(self) -> int:
        return self._service.max_message_chars

    async def pause(self, channel: str) -> None:
        """Stops starting work on `channel`'s messages; work already started finishes."""
        self.paused.add(channel)

    async def resume(self, channel: str) -> int:
        """Starts the messages that waited, at once; returns how many pending rows (of any
        channel) the rescan scheduled."""
        self.paused.discard(channel)
        try:
            return await self.rescan()
        except Exception:
            log.exception("inbox rescan after resume failed; the periodic rescan retries")
            return 0

    async def accept(self, inbound: Inbound) -> bool:
        """Durably records the message; False means it was a duplicate and was dropped."""
        assert inbound.message_id is not None, "platform messages need their platform id"
        self._metrics.messages_in.labels(inbound.channel).inc()
        # A message over the limit is kept just long enough for the pipeline to refuse it.
        inbound.text = clip(inbound.text, self.max_message_chars)
        (inbox_id,) = await self._writer.submit(
            self._store.accept_inbox(
                inbound.channel,
                inbound.message_id,
                inbound.session_key,
                inbound.user_id,
                inbound.text,
                inbound.target,
                inbound.received_at,
                principal=inbound.principal,
                request_id=inbound.request_id,
                attachments=inbound.attachments,
                batch=inbound.batch,
            )
        )
        if inbox_id is None:
            self._metrics.dedupe_hits.labels(inbound.channel).inc()
            log.info(
                "duplicate message dropped", channel=inbound.channel, message_id=inbound.message_id
            )
            return False
        inbound.inbox_id = inbox_id
        if self._approvals is not None and await self._approvals.answer(inbound):
            # An answer to a tool's question: the turn that asked goes on; nothing to reply.
            await self._writer.submit(self._store.finish_inbox(inbox_id, "done", self._clock()))
            return True
        self._schedule(inbound)
        return True

    def _schedule(self, inbound: Inbound) -> None:
        assert inbound.inbox_id is not None
        if inbound.inbox_id in self._in_flight or inbound.channel in self.paused:
            return  # stays pending in the store until the rescan after `resume`
        if inbound.batch is not None:
            if (inbound.session_key, inbound.batch) not in self._released:
                self._batches.hold(
                    inbound.session_key, inbound.batch, inbound.channel, inbound.received_at
                )
            return
        self._batches.flush(inbound.session_key)
        try:
            future = self._service.dispatcher.submit(
                inbound.session_key, lambda: self._process(inbound)
            )
        except QueueFull:
            return  # stays pending in the store; the rescan picks it up when there is room
        self._in_flight.add(inbound.inbox_id)
        future.add_done_callback(lambda f: f.cancelled() or f.exception())

    def _release(self, session_key: str, batch: str, channel: str) -> None:
        """A held batch is due: its pieces are answered together, in the session's lane."""
        if channel in self.paused:
            return  # its rows stay pending until the rescan after `resume`
        try:
            future = self._service.dispatcher.submit(
                session_key, lambda: self._answer_batch(session_key, batch)
            )
        except QueueFull:
            return  # stays pending in the store; the rescan holds it again
        self._released.add((session_key, batch))
        future.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def _answer_batch(self, session_key: str, batch: str) -> None:
        # Pieces that come from now on are read here, or held again if they come too late.
        self._released.discard((session_key, batch))
        rows = await self._store.pending_for_session(session_key, BATCH_READ)
        done = set(self._recently_done)
        pieces = [
            row
            for row in pieces_of(rows, batch)
            if row.id not in self._in_flight and row.id not in done
        ]
        if pieces:
            self._in_flight.update(row.id for row in pieces)
            await self._process(merged(pieces))

    async def _process(self, inbound: Inbound) -> None:
        inbox_id = inbound.inbox_id
        assert inbox_id is not None
        rows = (inbox_id, *inbound.joined)
        try:
            async with self._channels.presence(inbound) as on_delta:
                # The draft shows the tool status too; the delivered answer replaces the draft.
                await self._service.process(
                    inbound, on_delta, extra_writes=self._completion, on_status=on_delta
                )
        except StaleWrite:
            log.info("message was answered by another replica", inbox_id=inbox_id)
        except Exception as exc:
            log.exception(
                "message processing failed", inbox_id=inbox_id, request_id=inbound.request_id
            )
            now = self._clock()
            try:
                await self._writer.submit(
                    *(
                        self._store.finish_inbox(row, "failed", now, error=repr(exc)[:500])
                        for row in rows
                    ),
                    self._store.enqueue_outbox(
                        inbox_id,
                        inbound.channel,
                        inbound.session_key,
                        inbound.target,
                        "⚠️ " + failure_notice(pick(inbound.target.locale), inbound.request_id),
                        now,
                    ),
                )
            except Exception:
                # The store itself is failing: the row is still pending and the rescan
                # retries it once the store is back.
                log.exception("could not record the failure", inbox_id=inbox_id)
                return
        finally:
            self._in_flight.difference_update(rows)
        self._recently_done.extend(rows)
        self._on_reply()

    def _completion(self, ctx: TurnContext) -> list[WriteOp]:
        inbound = ctx.inbound
        assert inbound.inbox_id is not None
        now = self._clock()
        if ctx.error is not None:
            # The provider's error stays in the logs and the inbox row; users get a plain notice.
            text = "⚠️ " + failure_notice(ctx.language, inbound.request_id)
            status, error = "failed", ctx.error
        else:
            text, status, error = ctx.reply or "", "done", None
        rows = (inbound.inbox_id, *inbound.joined)
        ops = [self._store.finish_inbox(row, status, now, error) for row in rows]
        target = inbound.target
        if ctx.provider is not None and ctx.keep_turn and not ctx.is_command:
            target = target.answering(inbound.request_id)  # channels offer 👍/👎 on it
        if text:
            ops.append(
                self._store.enqueue_outbox(
                    inbound.inbox_id, inbound.channel, inbound.session_key, target, text, now
                )
            )
        return ops

    async def rescan(self, limit: int = 500) -> int:
        """Schedules pending rows not already in flight: after a restart, or after back-pressure."""
        rows = await self._store.pending_inbox(limit, set(self._in_flight), frozenset(self.paused))
        done = set(self._recently_done)
        rows = [row for row in rows if row.id not in done and row.id not in self._in_flight]
        for row in rows:
            self._schedule(inbound_from_row(row))
        if rows:
            log.info("resumed pending messages", count=len(rows))
        return len(rows)

    async def report_backlog(self) -> None:
        """Sets the backlog gauges; runs with each rescan, never per message."""
        count, oldest = await self._store.inbox_backlog()
        self._metrics.inbox_pending.set(count)
        self._metrics.inbox_oldest.set(0.0 if oldest is None else max(0.0, self._clock() - oldest))

    def start(self) -> None:
        self._task = asyncio.create_task(self._rescan_loop(), name="inbox-rescan")

    async def stop(self) -> None:
        self._batches.close()  # held batches stay pending in the store for the next start
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _rescan_loop(self) -> None:
        while True:
            try:
                await self.rescan()
                await self.report_backlog()
            except Exception:
                log.exception("inbox rescan failed")
            await asyncio.sleep(self._rescan_interval)
