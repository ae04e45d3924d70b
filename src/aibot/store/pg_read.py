"""The per-message conversation read on PostgreSQL, through asyncpg's own protocol.

Through SQLAlchemy's asyncio layer one read of a new conversation cost a pool checkout (and,
with 50 messages at once against a pool of 10 + 10, opening and closing overflow connections,
each a TLS attempt and a handshake), a `BEGIN`, the `SELECT`, a `ROLLBACK` at check-in and a
greenlet switch per call: 34 % of the gateway's GIL time (issue 20). Here the read is one
prepared statement (the row and its recent turns in one round trip), in autocommit, on a small
pool of raw asyncpg connections of its own that stay open.

The promise this keeps: a session's writes are committed before its next message starts (the
service awaits the group commit in the session's lane), and a statement outside a transaction
under READ COMMITTED sees every transaction committed before it began.

Liveness without a ping: a connection the server closed while it rested is noticed for free
(asyncpg marks it closed) and replaced at checkout; one lost while a statement ran fails that
statement, and since a read changes nothing it is retried once on a new connection, after the
pool's other idle connections (likely lost to the same restart) are dropped.

The background polls read here too (`pending_inbox`, `pending_outbox`, `inbox_backlog`:
store/queues.py `QueuePolls`): the outbox every 2 s, the inbox rescan every 5 s, each replica;
so does the scheduler's tick (`due_tasks`, `job_states`: store/schedules.py `ScheduleReads`),
every second, and the API keys' refresh (`unrevoked_keys`: store/api_keys.py `KeyReads`).

`RawPool.run` takes any function of one `PgConnection`. The scale-out mode's inbox drain runs
here too (`PgSessionRead.drain`): a session's pending rows and, when the replica's cached
conversation is not current, the conversation in the same statement, where the drain went
through the engine (pool checkout, `BEGIN`, `ROLLBACK`) and the read came after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.store.poll_sql import (
    BACKLOG_SQL,
    DUE_TASKS_SQL,
    JOB_STATES_SQL,
    POLL_INBOX_SQL,
    POLL_OUTBOX_SQL,
    UNREVOKED_KEYS_SQL,
)
from aibot.store.rows import RawSession

T = TypeVar("T")

# The conversation and its newest `$2` turns after `{after}`, newest first: no row when there
# is no conversation, one row of NULL turn columns when it has no turns (yet, or newer).
_READ_SQL = (
    "SELECT c.model, c.context_from, c.updated_at, t.role, t.content, t.created_at,"
    " t.reasoning, t.provider, t.model, t.request_id, t.route, t.tool_data"
    " FROM conversations c LEFT JOIN LATERAL ("
    "SELECT id, role, content, created_at, reasoning, provider, model, request_id, route,"
    " tool_data FROM turns WHERE turns.session_key = c.session_key"
    " AND turns.created_at > {after} ORDER BY created_at DESC, id DESC LIMIT $2"
    ") t ON true WHERE c.session_key = $1 ORDER BY t.created_at DESC, t.id DESC"
)
LOAD_SQL = _READ_SQL.format(after="c.context_from")
# A cached conversation's catching up in scale-out mode (core/sessions.py): only the turns
# after its newest one (`$3`), on the (session_key, created_at) index.
NEWER_SQL = _READ_SQL.format(after="$3")
# The scale-out inbox drain (core/shared_inbox.py): a session's pending inbox rows oldest
# first (part 0) and, unless `$3` is negative, its conversation as LOAD_SQL reads it with `$3`
# turns (part 1), in one round trip: a replica whose cached conversation is not current reads
# both anyway.
_TURN_NULLS = ", NULL" * 13
DRAIN_SQL = (
    "SELECT 0 AS part, id, channel, message_id, session_key, user_id, text, target,"
    " received_at, attempts" + _TURN_NULLS + " FROM ("
    "SELECT * FROM inbox WHERE session_key = $1 AND status = 'pending' ORDER BY id LIMIT $2"
    ") i UNION ALL SELECT 1" + ", NULL" * 9 + ", c.model, c.context_from, c.updated_at,"
    " t.role, t.content, t.created_at, t.reasoning, t.provider, t.model, t.request_id,"
    " t.route, t.tool_data, t.id FROM conversations c LEFT JOIN LATERAL ("
    "SELECT id, role, content, created_at, reasoning, provider, model, request_id, route,"
    " tool_data FROM turns WHERE turns.session_key = c.session_key"
    " AND turns.created_at > c.context_from ORDER BY created_at DESC, id DESC LIMIT greatest($3, 0)"
    ") t ON true WHERE c.session_key = $1 AND $3 >= 0 ORDER BY 1, 2, 16 DESC, 23 DESC"
)
# asyncpg's server-side errors that mean the connection is gone, whatever its state says.
_LOST = (
    OSError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)


def names_statements(engine: AsyncEngine) -> bool:
    """False when the URL says `prepared_statement_cache_size=0`: the way to run behind
    pgbouncer in transaction mode, where a named prepared statement may land on another server
    connection. The raw paths then send every statement unnamed, as the engine does."""
    _, options = engine.dialect.create_connect_args(engine.url)
    return int(options.get("prepared_statement_cache_size", 100)) != 0


async def connect_like(engine: AsyncEngine) -> Any:
    """A raw connection with the arguments the engine's own asyncpg connections get from the
    URL (host, port, database, user, password, `ssl` and the rest of the query); without named
    statements when the URL turns the engine's off (see `names_statements`)."""
    args, options = engine.dialect.create_connect_args(engine.url)
    for dialect_only in ("prepared_statement_cache_size", "prepared_statement_name_func"):
        options.pop(dialect_only, None)
    if not names_statements(engine):
        options["statement_cache_size"] = 0
    return await asyncpg.connect(*args, **options)


async def close_quietly(connection: Any) -> None:
    """Says goodbye to the server if it answers within 2 s; drops the socket otherwise."""
    try:
        await connection.close(timeout=2)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        connection.terminate()


class PgConnection:
    """A raw connection with its statements prepared once (each `fetch` of a known text is a
    bind and an execute, one round trip)."""

    __slots__ = ("_named", "_prepared", "raw")

    def __init__(self, raw: Any, named: bool = True) -> None:
        self.raw = raw
        self._named = named
        self._prepared: dict[str, Any] = {}

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        if not self._named:
            unnamed: list[Any] = await self.raw.fetch(sql, *args)
            return unnamed
        statement = self._prepared.get(sql)
        if statement is None:
            statement = self._prepared[sql] = await self.raw.prepare(sql)
        rows: list[Any] = await statement.fetch(*args)
        return rows


class RawPool:
    """At most `size` raw connections, opened when first needed and kept; a caller beyond
    `size` waits for one to come back. The most recently used idle connection goes first."""

    def __init__(
        self, connect: Callable[[], Awaitable[Any]], size: int, named: bool = True
    ) -> None:
        self._connect = connect
        self._named = named
        self._slots = asyncio.Semaphore(size)
        self._idle: list[PgConnection] = []

    @classmethod
    def for_engine(cls, engine: AsyncEngine, size: int) -> RawPool:
        return cls(lambda: connect_like(engine), size, names_statements(engine))

    async def run(self, work: Callable[[PgConnection], Awaitable[T]]) -> T:
        """`work` on a pooled connection, retried once on a new one if the first was lost;
        the database's errors come out as SQLAlchemy's `DBAPIError`, as from the engine."""
        async with self._slots:
            try:
                try:
                    return await self._attempt(work)
                except _LOST:
                    self._drop_idle()
                    return await self._attempt(work)
            except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                raise DBAPIError(None, None, exc, hide_parameters=True) from exc

    async def _attempt(self, work: Callable[[PgConnection], Awaitable[T]]) -> T:
        connection = await self._checkout()
        try:
            result = await work(connection)
        except BaseException as exc:
            lost = connection.raw.is_closed()
            # Whatever state a failed or cancelled statement left behind goes with it.
            connection.raw.terminate()
            if lost and isinstance(exc, asyncpg.InterfaceError):
                raise asyncpg.exceptions.ConnectionDoesNotExistError(str(exc)) from exc
            raise
        self._idle.append(connection)
        return result

    async def _checkout(self) -> PgConnection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.raw.is_closed():
                return connection
        return PgConnection(await self._connect(), self._named)

    def _drop_idle(self) -> None:
        for connection in self._idle:
            connection.raw.terminate()
        self._idle.clear()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await close_quietly(connection.raw)


class PgSessionRead:
    """The `SessionRead` of store/session_read.py on a `RawPool`."""

    def __init__(self, pool: RawPool) -> None:
        self.pool = pool

    async def load(self, session_key: str, keep: int) -> RawSession:
        async def read(connection: PgConnection) -> list[Any]:
            return await connection.fetch(LOAD_SQL, session_key, keep)

        return _session(await self.pool.run(read))

    async def newer(self, session_key: str, after: float, limit: int) -> RawSession:
        """The conversation as `load` reads it, but only its turns created after `after`."""

        async def read(connection: PgConnection) -> list[Any]:
            return await connection.fetch(NEWER_SQL, session_key, limit, after)

        return _session(await self.pool.run(read))

    async def drain(
        self, session_key: str, limit: int, keep: int | None
    ) -> tuple[list[Any], RawSession | None]:
        """A session's `limit` oldest pending inbox rows (records with the columns
        `rows.inbox_row` reads) and, with `keep`, its conversation as `load` reads it: one
        statement, one round trip."""

        async def read(connection: PgConnection) -> list[Any]:
            return await connection.fetch(
                DRAIN_SQL, session_key, limit, -1 if keep is None else keep
            )

        rows = await self.pool.run(read)
        pending = [row for row in rows if row[0] == 0]
        if keep is None:
            return pending, None
        return pending, _session([tuple(row)[10:22] for row in rows if row[0] == 1])

    async def pending_inbox(self, limit: int, exclude_channels: frozenset[str]) -> list[Any]:
        return await self._fetch(POLL_INBOX_SQL, limit, sorted(exclude_channels))

    async def pending_outbox(self, limit: int) -> list[Any]:
        return await self._fetch(POLL_OUTBOX_SQL, limit)

    async def inbox_backlog(self) -> tuple[int, float | None]:
        (count, oldest), *_ = await self._fetch(BACKLOG_SQL)
        return int(count), oldest

    async def due_tasks(self, now: float, limit: int) -> list[Any]:
        return await self._fetch(DUE_TASKS_SQL, now, limit)

    async def job_states(self) -> list[Any]:
        return await self._fetch(JOB_STATES_SQL)

    async def unrevoked_keys(self) -> list[Any]:
        return await self._fetch(UNREVOKED_KEYS_SQL)

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        async def read(connection: PgConnection) -> list[Any]:
            return await connection.fetch(sql, *args)

        return await self.pool.run(read)

    async def close(self) -> None:
        await self.pool.close()


def _session(rows: list[Any]) -> RawSession:
    """LOAD_SQL's rows as a `RawSession`."""
    if not rows:
        return None, []
    first = tuple(rows[0])
    if first[3] is None:  # role is never NULL: the conversation has no turns
        return first[:3], []
    return first[:3], [tuple(row)[3:] for row in rows]
