"""SQLite on SQLAlchemy core's synchronous engine, each statement handed to a worker thread.

The store's code is written against SQLAlchemy's asyncio API (`engine.connect()`, `begin()`,
`await connection.execute(...)`). That extension's package imports the ORM, greenlet and, for
SQLite, aiosqlite: ~8 MB and ~0.14 s of CPU at every start (issue 20), and aiosqlite makes each
statement several thread hand-offs (cursor, execute, fetch, close). Here the same surface, the
part the store uses, runs core's pysqlite `Engine`: each call is one hop to a worker thread that
checks a connection out of the pool (on a connection's first call), runs the statement and
fetches every row there, so the event loop never touches sqlite. Pool, PRAGMAs and transactions
are the engine's own (store/engine.py), as they were under aiosqlite: `connect()` rolls back
what it did not commit, `begin()` commits on leaving without an error.

A semaphore on the loop bounds the connections in use to the pool's size, so a checkout on a
worker thread never waits for a connection that another awaiting task would have to free through
a worker of its own. PostgreSQL and MySQL keep SQLAlchemy's asyncio extension (store/engine.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    ParamSpec,
    TypeAlias,
    TypeVar,
    TypeVarTuple,
    overload,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, CursorResult, Dialect, Engine, Row, ScalarResult
    from sqlalchemy.engine.interfaces import (
        CoreExecuteOptionsParameter,
        _CoreAnyExecuteParams,
        _CoreSingleExecuteParams,
        _DBAPIAnyExecuteParams,
    )
    from sqlalchemy.engine.url import URL
    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
    from sqlalchemy.sql.base import Executable
    from sqlalchemy.sql.selectable import TypedReturnsRows

# What the store's code takes: SQLAlchemy's asyncio engine on PostgreSQL and MySQL, the one
# below on SQLite (store/engine.py picks). Names only: nothing here imports the extension.
Database: TypeAlias = "AsyncEngine | SqliteEngine"
DatabaseConnection: TypeAlias = "AsyncConnection | SqliteConnection"

T = TypeVar("T")
P = ParamSpec("P")
Ts = TypeVarTuple("Ts")
# What `stream` fetches per hop: bounded memory for a long scan, few hops.
STREAM_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class SqliteFile:
    """The database file an engine opens, and whether it zeroes what it deletes (a sealed
    store): what store/engine.py needs to check the file with plain sqlite3."""

    path: Path
    secure_delete: bool


def file_of(engine: Database) -> SqliteFile | None:
    """The SQLite file `engine` opens, for what reads it with plain sqlite3; None for every
    other engine (a server, an in-memory database, a URL with options)."""
    return engine.file if isinstance(engine, SqliteEngine) else None


class SqliteEngine:
    """What the store uses of `AsyncEngine`, for SQLite. `connections` is the pool's size with
    its overflow (None: one shared connection, an in-memory database, one thread).

    The core engine is made by `make_sync` at its first use, not here: a gateway on a SQLite
    file starts and serves without SQLAlchemy (issue 20, cold start: ~0.1 s of CPU), its start
    reading with plain sqlite3 (store/sqlite_file.py, store/session_read.py), and imports it
    once serving (`warm_up`) or at the first statement, whichever comes first.

    `blocking`: each call runs on the caller's thread, the event loop's, instead of a worker's.
    Only for an engine one task uses on a loop with nothing else to run, such as `ai-bot run`'s
    store check (cli/preflight.py): it spares starting, feeding and joining a worker thread."""

    name = "sqlite"

    def __init__(
        self,
        make_sync: Callable[[], Engine],
        connections: int | None,
        *,
        blocking: bool = False,
        file: SqliteFile | None = None,
    ) -> None:
        self.file = file
        self._make_sync = make_sync
        self._sync: Engine | None = None
        self._making = threading.Lock()  # worker threads and the warm-up may ask at once
        self._connections = connections
        self._blocking = blocking
        self._workers: ThreadPoolExecutor | None = None
        self._slots = asyncio.Semaphore(connections) if connections else None

    @property
    def sync_engine(self) -> Engine:
        with self._making:
            if self._sync is None:
                from aibot.store.buffered import BufferedContext

                sync = self._make_sync()
                sync.dialect.execution_ctx_cls = BufferedContext
                self._sync = sync
            return self._sync

    @property
    def dialect(self) -> Dialect:
        return self.sync_engine.dialect

    @property
    def url(self) -> URL:
        return self.sync_engine.url

    def connect(self) -> SqliteConnection:
        return SqliteConnection(self, commit=False)

    def begin(self) -> SqliteConnection:
        """A connection whose work commits when its block ends without an error."""
        return SqliteConnection(self, commit=True)

    async def dispose(self) -> None:
        """Closes the pool's connections and the worker threads (both come back on next use)."""
        workers, self._workers = self._workers, None
        sync = self._sync
        if workers is not None:
            if sync is not None:
                await asyncio.get_running_loop().run_in_executor(workers, sync.dispose)
            workers.shutdown(wait=True)
        elif sync is not None:
            sync.dispose()

    def submit(self, call: Callable[[], T]) -> Future[T]:
        if self._blocking:
            done: Future[T] = Future()
            try:
                done.set_result(call())
            except Exception as exc:
                done.set_exception(exc)
            return done
        if self._workers is None:
            self._workers = ThreadPoolExecutor(self._connections or 1, "store-sqlite")
        return self._workers.submit(call)

    async def acquire(self) -> None:
        if self._slots is not None:
            await self._slots.acquire()

    def release(self) -> None:
        if self._slots is not None:
            self._slots.release()


class SqliteConnection:
    """One pooled connection, checked out by its first call and returned (rolled back, or
    committed first for `begin()`) when its `async with` block ends. Its calls run one at a
    time under a lock, so a call left running by a cancelled task finishes before the close."""

    def __init__(self, engine: SqliteEngine, *, commit: bool) -> None:
        self._engine = engine
        self._commit = commit
        self._sync: Connection | None = None
        self._lock = threading.Lock()
        self._holding = False  # a slot of the engine's semaphore
        self._closed = False

    @property
    def dialect(self) -> Dialect:
        return self._engine.dialect

    async def __aenter__(self) -> SqliteConnection:
        return self

    async def __aexit__(self, exc_type: object, exc: object, traceback: object) -> None:
        await self.close(commit=self._commit and exc_type is None)

    async def run_sync(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Runs `fn` with the synchronous connection on the worker thread."""
        if not self._holding:
            await self._engine.acquire()
            self._holding = True
        return await asyncio.wrap_future(self._engine.submit(lambda: self._call(fn, args, kwargs)))

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        with self._lock:
            if self._closed:
                raise RuntimeError("the connection is closed")
            if self._sync is None:
                self._sync = self._engine.sync_engine.connect()
            return fn(self._sync, *args, **kwargs)

    async def close(self, *, commit: bool = False) -> None:
        """Commits when asked, then returns the connection to the pool (rolling back the rest).
        The slot is given back when that is done, even if the awaiting task is cancelled."""
        if not self._holding:
            self._closed = True
            return
        self._holding = False
        loop = asyncio.get_running_loop()
        done = self._engine.submit(lambda: self._finish(commit))

        def give_back(_: Future[None]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(self._engine.release)

        done.add_done_callback(give_back)
        await asyncio.wrap_future(done)

    def _finish(self, commit: bool) -> None:
        with self._lock:
            self._closed = True
            sync, self._sync = self._sync, None
            if sync is None:
                return
            try:
                if commit:
                    sync.commit()
            finally:
                sync.close()

    @overload
    async def execute(
        self,
        statement: TypedReturnsRows[*Ts],
        parameters: _CoreAnyExecuteParams | None = None,
        *,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> CursorResult[*Ts]: ...

    @overload
    async def execute(
        self,
        statement: Executable,
        parameters: _CoreAnyExecuteParams | None = None,
        *,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> CursorResult[*tuple[Any, ...]]: ...

    async def execute(
        self,
        statement: Executable,
        parameters: _CoreAnyExecuteParams | None = None,
        *,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> CursorResult[*tuple[Any, ...]]:
        return await self.run_sync(
            lambda c: c.execute(statement, parameters, execution_options=execution_options)
        )

    @overload
    async def scalar(
        self,
        statement: TypedReturnsRows[T],
        parameters: _CoreSingleExecuteParams | None = None,
        *,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> T | None: ...

    @overload
    async def scalar(
        self,
        statement: Executable,
        parameters: _CoreSingleExecuteParams | None = None,
        *,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> Any: ...

    async def scalar(
        self,
        statement: Executable,
        parameters: _CoreSingleExecuteParams | None = None,
        *,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> Any:
        result = await self.execute(statement, parameters, execution_options=execution_options)
        return result.scalar()

    @overload
    async def scalars(
        self,
        statement: TypedReturnsRows[T],
        parameters: _CoreAnyExecuteParams | None = None,
        *,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> ScalarResult[T]: ...

    @overload
    async def scalars(
        self,
        statement: Executable,
        parameters: _CoreAnyExecuteParams | None = None,
        *,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> ScalarResult[Any]: ...

    async def scalars(
        self,
        statement: Executable,
        parameters: _CoreAnyExecuteParams | None = None,
        *,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> ScalarResult[Any]:
        result = await self.execute(statement, parameters, execution_options=execution_options)
        return result.scalars()

    async def exec_driver_sql(
        self,
        statement: str,
        parameters: _DBAPIAnyExecuteParams | None = None,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> CursorResult[*tuple[Any, ...]]:
        return await self.run_sync(
            lambda c: c.exec_driver_sql(statement, parameters, execution_options)
        )

    async def stream(
        self, statement: Executable, parameters: _CoreAnyExecuteParams | None = None
    ) -> SqliteStream:
        """Rows fetched `STREAM_CHUNK` at a time on the worker thread, for long scans."""
        from aibot.store.buffered import UNBUFFERED

        options = {UNBUFFERED: True}
        result = await self.run_sync(
            lambda c: c.execute(statement, parameters, execution_options=options)
        )
        return SqliteStream(self, result)


class SqliteStream:
    """An async iterator over a statement's rows, as `AsyncResult` is for the asyncio API."""

    def __init__(self, connection: SqliteConnection, result: CursorResult[Any]) -> None:
        self._connection = connection
        self._result = result
        self._rows: deque[Row[Any]] = deque()
        self._done = False

    def __aiter__(self) -> AsyncIterator[Row[Any]]:
        return self

    async def __anext__(self) -> Row[Any]:
        if not self._rows and not self._done:
            chunk = await self._connection.run_sync(lambda _: self._result.fetchmany(STREAM_CHUNK))
            self._done = len(chunk) < STREAM_CHUNK
            self._rows.extend(chunk)
        if not self._rows:
            raise StopAsyncIteration
        return self._rows.popleft()
