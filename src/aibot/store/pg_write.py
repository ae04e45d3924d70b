"""The group commit's transaction on PostgreSQL, on a raw asyncpg connection.

Through SQLAlchemy's asyncio layer a batch of two statements cost 1.0–1.5 ms of CPU on the
2-core box, against 0.31–0.44 ms for the same four round trips (`BEGIN`, the statements,
`COMMIT`) on a raw asyncpg connection (issue 20): the execution context, the pool's checkout
and the greenlet switches of every call. Here SQLAlchemy still compiles each statement (once
per statement and parameter names) into the same SQL and parameter order its asyncpg dialect
sends; the batch then runs on one connection of the writer's own. A statement this path cannot
send exactly as SQLAlchemy would (Python-side column defaults, bind processors, expanding
parameters) sends the whole batch through the engine instead.

A batch of plain inserts (the common one: a message's conversation and turns) goes as one
statement instead of a transaction (store/pg_bulk.py), and so does a batch of one statement
(at low load most are: a platform message's inbox row, an outbox claim or its "sent"): a
statement alone is atomic, asyncpg's `executemany` included (one `Sync` for all its rows).
`BEGIN` and `COMMIT` are two round trips of their own.

A connection lost mid-batch fails the batch, as through the engine (the writer then retries
its units one by one, on a new connection); nothing is retried here, since a write is not a read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from aibot.store.pg_bulk import BulkPart, BulkUpdate, bulk_part, bulk_statement, columns
from aibot.store.pg_read import close_quietly, connect_like

# asyncpg's own errors, raised on our side of the wire: the connection is in a state it cannot
# tell (during a server restart: "cannot switch to state 15; another operation (2) is in
# progress" at the next BEGIN, a CI run of issue 20), so it is replaced, and the batch fails as
# the store's error (503 store_unavailable at the edge), not as an unknown one (a bare 500).
_CLIENT_SIDE = (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError)
_MAX_COMPILED = 512  # statements are built once and reused; this only bounds a surprise


class Step(Protocol):
    @property
    def statement(self) -> Executable: ...

    @property
    def params(self) -> dict[str, Any] | list[dict[str, Any]]: ...

    @property
    def slot(self) -> tuple[int, int] | None: ...

    @property
    def fenced(self) -> bool: ...


class RawResult:
    """What the writer reads of a statement's result, as from SQLAlchemy's."""

    __slots__ = ("_first", "returns_rows", "rowcount")
    lastrowid = None  # PostgreSQL has RETURNING instead

    def __init__(self, rowcount: int, returns_rows: bool, first: Any = None) -> None:
        self.rowcount = rowcount
        self.returns_rows = returns_rows
        self._first = first

    def first(self) -> Any:
        return self._first


class _Compiled:
    __slots__ = ("bulk", "names", "returns_rows", "sql", "values")

    def __init__(self, compiled: Any) -> None:
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.returns_rows = bool(compiled.effective_returning)
        self.values: Callable[[dict[str, Any]], dict[str, Any]] = compiled.construct_params
        self.bulk: BulkPart | None = bulk_part(compiled)

    def args(self, params: dict[str, Any]) -> tuple[Any, ...]:
        values = self.values(params)
        return tuple(values[name] for name in self.names)


class PgWrites:
    """The writer's own connection (opened on first use, replaced once the server closed it)
    and the statements compiled for it."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._connection: Any = None
        self._compiled: dict[tuple[Any, ...], _Compiled | None] = {}
        self._bulk_sql: dict[tuple[_Compiled, ...], str | None] = {}

    async def run(self, steps: Sequence[Step], on_result: Callable[[Any, RawResult], None]) -> bool:
        """Runs the steps in one transaction, handing each result to `on_result` inside it
        (an exception there rolls the batch back); False, with nothing done, when a step
        must go through the engine. Plain inserts, which yield nothing, run as one statement,
        and one step runs alone: an error in `on_result` then follows a statement that changed
        nothing (a fenced write that found no row) or whose result is only being read."""
        compiled_steps = [self._compile(step) for step in steps]
        plan = [compiled for compiled in compiled_steps if compiled is not None]
        if len(plan) != len(steps):
            return False
        bulk = self._bulk(steps, plan)
        try:
            connection = await self._checkout()  # refused while the server starts: DBAPIError
            try:
                if bulk is not None and await _run_bulk(connection, *bulk):
                    return True
                if self._alone(steps):
                    on_result(steps[0], await _execute(connection, plan[0], steps[0].params))
                    return True
                async with connection.transaction():
                    for step, compiled in zip(steps, plan, strict=True):
                        on_result(step, await _execute(connection, compiled, step.params))
            except BaseException as exc:
                broken = isinstance(exc, _CLIENT_SIDE) or not isinstance(exc, Exception)
                if broken or connection.is_closed():
                    connection.terminate()  # lost, cancelled or confused: start afresh
                    self._connection = None
                raise
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(None, None, exc, hide_parameters=True) from exc
        except (asyncpg.PostgresError, *_CLIENT_SIDE) as exc:
            raise DBAPIError(None, None, exc, hide_parameters=True) from exc
        return True

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await close_quietly(connection)

    async def _checkout(self) -> Any:
        if self._connection is None or self._connection.is_closed():
            self._connection = await connect_like(self._engine)
        return self._connection

    @staticmethod
    def _alone(steps: Sequence[Step]) -> bool:
        """Whether the batch is one statement, atomic without a transaction around it."""
        return len(steps) == 1

    def _bulk(
        self, steps: Sequence[Step], plan: Sequence[_Compiled]
    ) -> tuple[str, list[Any]] | None:
        """The batch as one statement and its parameters, if every step is a plain insert
        or a single-row update."""
        if any(step.slot is not None or step.fenced for step in steps):
            return None
        key = tuple(plan)
        if key not in self._bulk_sql:
            if len(self._bulk_sql) >= _MAX_COMPILED:
                self._bulk_sql.clear()
            parts = [compiled.bulk for compiled in plan if compiled.bulk is not None]
            self._bulk_sql[key] = bulk_statement(parts) if len(parts) == len(plan) else None
        sql = self._bulk_sql[key]
        if sql is None:
            return None
        values: list[Any] = []
        for step, compiled in zip(steps, plan, strict=True):
            rows = step.params if isinstance(step.params, list) else [step.params]
            if isinstance(compiled.bulk, BulkUpdate):
                if len(rows) != 1:  # one statement of it per row: the transaction's
                    return None
                values.extend(compiled.args(rows[0]))
                continue
            values.extend(columns([compiled.args(row) for row in rows], len(compiled.names)))
        return sql, values

    def _compile(self, step: Step) -> _Compiled | None:
        many = isinstance(step.params, list)
        rows = step.params if isinstance(step.params, list) else [step.params]
        names = tuple(rows[0])
        if any(tuple(row) != names for row in rows):
            return None
        key = (step.statement, names, many)
        if key not in self._compiled:
            if len(self._compiled) >= _MAX_COMPILED:
                self._compiled.clear()
            self._compiled[key] = self._compile_new(step.statement, names, many)
        return self._compiled[key]

    def _compile_new(
        self, statement: Executable, names: tuple[str, ...], many: bool
    ) -> _Compiled | None:
        try:
            compiled: Any = statement.compile(  # type: ignore[attr-defined]
                dialect=self._dialect, column_keys=list(names), for_executemany=many
            )
        except Exception:  # the engine raises the same error, in its own words
            return None
        if (
            compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled._bind_processors
            or compiled.literal_execute_params
            or compiled.post_compile_params
            or (many and compiled.effective_returning)
        ):
            return None
        return _Compiled(compiled)


async def _run_bulk(connection: Any, sql: str, values: list[Any]) -> bool:
    """False, with nothing written, when two rows of the batch name one conflict key: one
    statement refuses that, a transaction applies them in turn."""
    try:
        await connection.execute(sql, *values)
    except asyncpg.CardinalityViolationError:
        return False
    return True


async def _execute(
    connection: Any, compiled: _Compiled, params: dict[str, Any] | list[dict[str, Any]]
) -> RawResult:
    if isinstance(params, list):
        await connection.executemany(compiled.sql, [compiled.args(p) for p in params])
        return RawResult(len(params), False)
    args = compiled.args(params)
    if compiled.returns_rows:
        rows = await connection.fetch(compiled.sql, *args)
        return RawResult(len(rows), True, rows[0] if rows else None)
    status: str = await connection.execute(compiled.sql, *args)
    count = status.rsplit(" ", 1)[-1]
    return RawResult(int(count) if count.isdigit() else 0, False)
