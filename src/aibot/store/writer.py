"""Group commit: every write goes through one task that commits whatever has queued up at once.

At low load each unit commits at once (after one more turn of the event loop, so that units
of messages answered in the same moment share it); under load units pile up while the
previous commit runs and then share one transaction, and writes of the same statement are sent
as one executemany, so throughput grows instead of each message paying a full commit and a
round trip per row. A unit's writes always land in the same transaction (all or nothing), and
a caller that awaits `submit` knows its data is durable.

On SQLite the batch runs in one call on a dedicated thread with a plain sqlite3 connection:
through the async driver every statement, the BEGIN and the COMMIT would each be a thread hop
that waits for the busy event loop to release the GIL, measured at 20-45 ms per small commit
under load. PostgreSQL (asyncpg) and MySQL (asyncmy) have no threads and run the batch on the
event loop; on PostgreSQL on a raw asyncpg connection of the writer's own (store/pg_write.py).

Grouping by statement reorders writes of different statements within a batch. That is safe for
the store's statements: no two of them in one batch touch the same row in an order-dependent
way (a row is created, then updated only after that creation was committed and read back).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from aibot.core.errors import StaleWrite
from aibot.store.database import Database, SqliteEngine

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.sql import Executable

log = structlog.get_logger("aibot.store")


@dataclass(frozen=True, slots=True)
class Write:
    """One statement with its parameters. `returning` writes run alone and yield their first
    column (or None); the others are batched per statement and yield None. A `fenced` write
    also runs alone and fails its whole unit with StaleWrite when it changed no row: that is
    how a replica whose lease ran out learns that another finished the work first.

    On MySQL a returning write has no RETURNING (store/dialects.py): when it matched a row it
    yields `matched`, or the new row's id when `matched` is None; else None."""

    statement: Executable
    params: dict[str, Any]
    returning: bool = False
    fenced: bool = False
    matched: Any = None


@dataclass(frozen=True, slots=True)
class _Step:
    """One execute: a statement with one or many parameter sets; `slot` is where a returning
    write's value goes (unit index, op index)."""

    statement: Executable
    params: dict[str, Any] | list[dict[str, Any]]
    slot: tuple[int, int] | None = None
    fenced: bool = False
    matched: Any = None


class StepResult(Protocol):
    """What `_store_result` reads of a statement's result (SQLAlchemy's, or store/pg_write.py's)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> Any: ...

    @property
    def returns_rows(self) -> bool: ...

    def first(self) -> Any: ...


class RawWrites(Protocol):
    """A batch's transaction on a connection of the writer's own (store/pg_write.py)."""

    async def run(self, steps: list[_Step], on_result: Callable[[_Step, Any], None]) -> bool: ...

    async def close(self) -> None: ...


class _Unit:
    __slots__ = ("future", "ops")

    def __init__(self, ops: tuple[Write, ...], future: asyncio.Future[list[Any]]) -> None:
        self.ops = ops
        self.future = future


class GroupCommitWriter:
    def __init__(
        self,
        engine: Database,
        max_batch: int = 512,
        make_sync_engine: Callable[[], Engine] | None = None,
    ) -> None:
        self._engine = engine
        self._make_sync_engine = make_sync_engine
        self._sync_engine: Engine | None = None  # made on the writer's thread at its first batch
        self._raw: RawWrites | None = None
        if not isinstance(engine, SqliteEngine) and engine.name == "postgresql":
            from aibot.store.pg_write import PgWrites

            self._raw = PgWrites(engine)
        self._thread = (
            ThreadPoolExecutor(1, thread_name_prefix="store-writer")
            if make_sync_engine is not None
            else None
        )
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
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        if self._raw is not None:
            await self._raw.close()

    def submit_nowait(self, *ops: Write) -> asyncio.Future[list[Any]]:
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Unit(ops, future))
        return future

    async def submit(self, *ops: Write) -> list[Any]:
        """Returns each op's result once the transaction holding them has committed."""
        return await self.submit_nowait(*ops)

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            if self._queue.empty():
                # One more turn of the loop: where a commit is one round trip (PostgreSQL's
                # one-statement batches) units would otherwise each take one of their own
                # under load, ~1.1–1.3 × the CPU (bench/group_commit.py, issue 20 step 26).
                await asyncio.sleep(0)
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
        steps = _plan(batch)
        results: list[list[Any]] = [[None] * len(unit.ops) for unit in batch]
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(
                self._thread, self._execute_sync, steps, results
            )
            return results
        if self._raw is not None and await self._raw.run(
            steps, lambda step, result: _store_result(step, result, results)
        ):
            return results
        async with self._engine.begin() as connection:
            for step in steps:
                result = await connection.execute(step.statement, step.params)
                _store_result(step, result, results)
        return results

    def _execute_sync(self, steps: list[_Step], results: list[list[Any]]) -> None:
        if self._sync_engine is None:
            assert self._make_sync_engine is not None
            self._sync_engine = self._make_sync_engine()
        with self._sync_engine.begin() as connection:
            for step in steps:
                _store_result(step, connection.execute(step.statement, step.params), results)


def _plan(batch: list[_Unit]) -> list[_Step]:
    """Orders the batch's writes: same-statement writes merge into one executemany, flushed
    before any returning write so it sees everything queued ahead of it."""
    steps: list[_Step] = []
    grouped: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}

    def flush() -> None:
        steps.extend(_Step(statement, params) for statement, params in grouped.values())
        grouped.clear()

    for unit_index, unit in enumerate(batch):
        for op_index, op in enumerate(unit.ops):
            if op.returning or op.fenced:
                flush()
                slot = (unit_index, op_index)
                steps.append(_Step(op.statement, op.params, slot, op.fenced, op.matched))
            else:
                grouped.setdefault(id(op.statement), (op.statement, []))[1].append(op.params)
    flush()
    return steps


def _store_result(step: _Step, result: StepResult, results: list[list[Any]]) -> None:
    if step.fenced:
        if result.rowcount == 0:
            raise StaleWrite("the row was already changed by another replica")
        return
    if step.slot is None:
        return
    value: Any = None
    if result.returns_rows:
        row = result.first()
        value = row[0] if row else None
    elif result.rowcount:
        value = step.matched if step.matched is not None else result.lastrowid
    results[step.slot[0]][step.slot[1]] = value


def _settle(unit: _Unit, *, result: list[Any] | None = None, exc: Exception | None = None) -> None:
    if unit.future.done():
        return
    with contextlib.suppress(asyncio.InvalidStateError):
        if exc is not None:
            unit.future.set_exception(exc)
        else:
            unit.future.set_result(result or [])
