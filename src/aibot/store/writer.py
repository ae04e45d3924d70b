"""Group commit: every write goes through one task that commits whatever has queued up at once.

At low load each unit commits immediately; under load units pile up while the previous commit
runs and then share one transaction, so throughput grows instead of each message paying a full
commit. A unit's operations always land in the same transaction (all or nothing), and a caller
that awaits `submit` knows its data is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

WriteOp = Callable[[AsyncConnection], Awaitable[Any]]

log = structlog.get_logger("aibot.store")


class _Unit:
    __slots__ = ("future", "ops")

    def __init__(self, ops: tuple[WriteOp, ...], future: asyncio.Future[list[Any]]) -> None:
        self.ops = ops
        self.future = future


class GroupCommitWriter:
    def __init__(self, engine: AsyncEngine, max_batch: int = 512) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Unit | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="store-writer")

    async def stop(self) -> None:
        """Commits everything already submitted, then ends the writer task."""
        if self._task is None:
            return
        await self._queue.put(None)
        await self._task
        self._task = None

    def submit_nowait(self, *ops: WriteOp) -> asyncio.Future[list[Any]]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Unit(ops, future))
        return future

    async def submit(self, *ops: WriteOp) -> list[Any]:
        """Returns each op's result once the transaction holding them has committed."""
        return await self.submit_nowait(*ops)

    async def flush(self) -> None:
        """Waits until everything submitted before this call is committed."""
        await self.submit()

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                unit = self._queue.get_nowait()
                if unit is None:
                    stopping = True
                    break
                batch.append(unit)
            await self._commit(batch)

    async def _commit(self, batch: list[_Unit]) -> None:
        try:
            results = await self._execute(batch)
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0], exc=exc)
                return
            # One bad unit must not fail its neighbours: retry them one transaction each.
            log.warning("batched commit failed; retrying units one by one", error=str(exc))
            for unit in batch:
                await self._commit([unit])
            return
        for unit, result in zip(batch, results, strict=True):
            _settle(unit, result=result)

    async def _execute(self, batch: list[_Unit]) -> list[list[Any]]:
        async with self._engine.begin() as connection:
            return [[await op(connection) for op in unit.ops] for unit in batch]


def _settle(unit: _Unit, *, result: list[Any] | None = None, exc: Exception | None = None) -> None:
    if unit.future.done():
        return
    with contextlib.suppress(asyncio.InvalidStateError):
        if exc is not None:
            unit.future.set_exception(exc)
        else:
            unit.future.set_result(result or [])
