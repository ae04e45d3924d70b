"""Runs one message through the pipeline and commits what it produced in one transaction."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import structlog

from aibot.core.coordination import SessionLocks
from aibot.core.dispatcher import Dispatcher
from aibot.core.errors import CoordinationUnavailable
from aibot.core.message_log import MessageLog
from aibot.core.message_size import DEFAULT_MAX_MESSAGE_CHARS
from aibot.core.messages import Inbound, MessageOutcome, StreamDelta
from aibot.core.pipeline import ChunkSink, DeltaSink, Pipeline, TurnContext
from aibot.core.sessions import SessionMemory, WriteOp, Writer
from aibot.ops.metrics import Metrics

ExtraWrites = Callable[[TurnContext], list[WriteOp]]
T = TypeVar("T")

log = structlog.get_logger("aibot.core")

# The event loop holds tasks weakly; turns streamed to a caller that left must still finish.
_running: set[asyncio.Task[TurnContext]] = set()


class ChatService:
    def __init__(
        self,
        pipeline: Pipeline,
        dispatcher: Dispatcher,
        writer: Writer,
        memory: SessionMemory,
        metrics: Metrics,
        clock: Callable[[], float],
        locks: SessionLocks | None = None,
        max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
    ) -> None:
        self.pipeline = pipeline
        self.max_message_chars = max_message_chars  # see core/message_size.py
        self._locks = locks
        self.dispatcher = dispatcher
        self._writer = writer
        self._memory = memory
        self._metrics = metrics
        self._clock = clock
        self.message_log = MessageLog(memory.store, writer)  # the dashboard's history

    async def handle(
        self,
        inbound: Inbound,
        on_delta: DeltaSink | None = None,
        on_chunk: ChunkSink | None = None,
    ) -> TurnContext:
        """For request/response channels: queue behind the session, run, return the result."""
        self._metrics.messages_in.labels(inbound.channel).inc()
        ctx = await self.dispatcher.run(
            inbound.session_key, lambda: self._process_locked(inbound, on_delta, on_chunk)
        )
        outcome = "answered" if ctx.error is None else "failed"
        self._metrics.messages_out.labels(inbound.channel, outcome).inc()
        return ctx

    async def _process_locked(
        self, inbound: Inbound, on_delta: DeltaSink | None, on_chunk: ChunkSink | None
    ) -> TurnContext:
        """With several replicas the session is also held across them for the turn; a
        stateless call has no session to hold."""
        if self._locks is None or not inbound.remember:
            return await self.process(inbound, on_delta, on_chunk=on_chunk)
        async with self._locks.hold(inbound.session_key, wait=True) as held:
            if not held:
                raise CoordinationUnavailable("the conversation is busy on another replica")
            return await self.process(inbound, on_delta, on_chunk=on_chunk)

    async def process(
        self,
        inbound: Inbound,
        on_delta: DeltaSink | None = None,
        extra_writes: ExtraWrites | None = None,
        on_chunk: ChunkSink | None = None,
        on_status: DeltaSink | None = None,
    ) -> TurnContext:
        """Runs the pipeline; returns once its writes (and `extra_writes`) are durable.
        `on_status` shows a short line while tools run (a platform's streamed draft)."""
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(request_id=inbound.request_id)
        try:
            ctx = await self.pipeline.run(
                TurnContext(
                    inbound, self._clock(), on_delta, on_chunk=on_chunk, on_status=on_status
                )
            )
            writes = ctx.writes + (extra_writes(ctx) if extra_writes else [])
            if writes:
                self._memory.writing(inbound.session_key)
                try:
                    await self._writer.submit(*writes)
                except Exception:
                    self._memory.forget(inbound.session_key)
                    raise
                if ctx.session is not None:
                    self._memory.written(ctx.session)
            elapsed = time.perf_counter() - started
            self._metrics.message_latency.labels(inbound.channel).observe(elapsed)
            self._log(inbound, ctx, elapsed)
            if ctx.error is not None:
                self._metrics.errors.labels(inbound.channel, "model").inc()
                log.warning(
                    "message failed",
                    channel=inbound.channel,
                    session=inbound.session_key,
                    request_id=inbound.request_id,
                    error=ctx.error,
                )
            else:
                log.info(
                    "message handled",
                    channel=inbound.channel,
                    session=inbound.session_key,
                    provider=ctx.provider,
                    route=ctx.route,
                    ms=round(elapsed * 1000, 1),
                    tokens=ctx.usage.total_tokens,
                    command=ctx.is_command,
                )
            return ctx
        finally:
            structlog.contextvars.unbind_contextvars("request_id")

    def _log(self, inbound: Inbound, ctx: TurnContext, elapsed: float) -> None:
        self.message_log.add(
            MessageOutcome(
                self._clock(),
                inbound.channel,
                ctx.provider,
                ctx.error is not None,
                elapsed,
                ctx.usage.total_tokens,
            )
        )


class StreamEnd:
    """The last item of `stream_turn`: the finished context, or the error that ended it."""

    __slots__ = ("ctx", "exc")

    def __init__(self, ctx: TurnContext | None, exc: BaseException | None) -> None:
        self.ctx = ctx
        self.exc = exc


def stream_turn(service: ChatService, inbound: Inbound) -> AsyncIterator[str | StreamEnd]:
    """Yields answer text as it arrives, then one StreamEnd.

    The turn runs in its own task: a caller that disconnects stops reading, but the answer is
    still finished and remembered, so the conversation stays consistent.
    """

    def start(sink: Callable[[str], Awaitable[None]]) -> Awaitable[TurnContext]:
        return service.handle(inbound, sink)

    return _streamed(start)


def stream_events(service: ChatService, inbound: Inbound) -> AsyncIterator[StreamDelta | StreamEnd]:
    """Like `stream_turn`, with every streamed event of the model whole (a pass-through)."""

    def start(sink: Callable[[StreamDelta], Awaitable[None]]) -> Awaitable[TurnContext]:
        return service.handle(inbound, on_chunk=sink)

    return _streamed(start)


async def _streamed(
    start: Callable[[Callable[[T], Awaitable[None]]], Awaitable[TurnContext]],
) -> AsyncIterator[T | StreamEnd]:
    queue: asyncio.Queue[T | StreamEnd] = asyncio.Queue()

    async def sink(item: T) -> None:
        queue.put_nowait(item)

    def finished(task: asyncio.Task[TurnContext]) -> None:
        if task.cancelled():
            queue.put_nowait(StreamEnd(None, asyncio.CancelledError()))
        else:
            exc = task.exception()
            queue.put_nowait(StreamEnd(None if exc else task.result(), exc))

    task = asyncio.ensure_future(start(sink))
    _running.add(task)
    task.add_done_callback(_running.discard)
    task.add_done_callback(finished)
    while True:
        item = await queue.get()
        yield item
        if isinstance(item, StreamEnd):
            return
