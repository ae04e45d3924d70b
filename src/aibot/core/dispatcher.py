"""Per-session ordering with bounded concurrency and a bounded queue.

Each session with work has one lane (a deque and a task draining it), so its messages run one at
a time in arrival order while different sessions run side by side, at most `max_concurrency` at
once. Past `max_queue` waiting messages, `QueueFull` pushes back instead of growing memory.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog

from aibot.core.errors import QueueFull
from aibot.ops.metrics import Metrics

T = TypeVar("T")
Job = Callable[[], Awaitable[Any]]

log = structlog.get_logger("aibot.dispatcher")


class _Lane:
    __slots__ = ("jobs", "task")

    def __init__(self) -> None:
        self.jobs: deque[tuple[Job, asyncio.Future[Any]]] = deque()
        self.task: asyncio.Task[None] | None = None


class Dispatcher:
    def __init__(self, max_concurrency: int, max_queue: int, metrics: Metrics) -> None:
        self._slots = asyncio.Semaphore(max_concurrency)
        self._max_queue = max_queue
        self._lanes: dict[str, _Lane] = {}
        self._queued = 0
        self._running = 0
        self._metrics = metrics
        self._accepting = True
        # Read when /metrics is scraped: setting the locked gauges on every message cost more
        # than the counting itself.
        metrics.queue_depth.set_function(lambda: self._queued)
        metrics.in_flight.set_function(lambda: self._running)

    @property
    def queued(self) -> int:
        return self._queued

    def submit(self, session_key: str, job: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """Queues `job` behind the session's earlier jobs; the future carries its result."""
        if not self._accepting:
            raise QueueFull("the gateway is shutting down")
        if self._queued >= self._max_queue:
            self._metrics.rejected.labels("queue_full").inc()
            raise QueueFull(f"{self._queued} messages are already waiting")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        lane = self._lanes.get(session_key)
        if lane is None:
            lane = self._lanes[session_key] = _Lane()
            lane.task = asyncio.create_task(self._drain(session_key, lane))
        lane.jobs.append((job, future))
        self._queued += 1
        return future

    async def run(self, session_key: str, job: Callable[[], Awaitable[T]]) -> T:
        """Like submit, then waits. A caller that goes away before its turn skips the job."""
        return await self.submit(session_key, job)

    async def _drain(self, session_key: str, lane: _Lane) -> None:
        while lane.jobs:
            # A job counts as queued until it holds a slot: lanes waiting for one are part
            # of the backlog that `max_queue` bounds.
            async with self._slots:
                job, future = lane.jobs.popleft()
                self._queued -= 1
                if future.done():
                    continue
                self._running += 1
                try:
                    result = await job()
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                    else:
                        log.exception("job failed after its caller left", session=session_key)
                else:
                    if not future.done():
                        future.set_result(result)
                finally:
                    self._running -= 1
        del self._lanes[session_key]

    async def stop(self, grace: float) -> None:
        """Stops intake and waits up to `grace` seconds for running and queued jobs to finish."""
        self._accepting = False
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("stopped with unfinished sessions", count=len(pending))
            await asyncio.gather(*pending, return_exceptions=True)
