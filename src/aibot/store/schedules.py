"""Scheduled tasks in the store: reminders users set and runs of admin schedules, each one row
that one process claims under a lease before it produces the message.

Exactly once: a task is claimed with a compare-and-set (pending, or running under a lapsed
lease → running, mine, until `lease_until`); its message enters the outbox in the same
transaction that marks it sent, fenced on still holding it. A process killed after the claim
leaves a lease that lapses; the next claimant produces the message again and only one "sent"
ever commits, so nothing is lost and nothing is sent twice. An admin schedule's next run is
turned into a task once: the schedule's `next_due` moves on by compare-and-set and the task row
is unique per (schedule, due time).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aibot.core.messages import ReplyTarget
from aibot.store.crypto import PLAIN, Cipher
from aibot.store.database import Database
from aibot.store.dialects import Statements
from aibot.store.rows import dump_target, load_target
from aibot.store.writer import Write

if TYPE_CHECKING:
    from sqlalchemy import Update
    from sqlalchemy.sql import Executable


@dataclass(frozen=True, slots=True)
class TaskRow:
    id: int
    kind: str
    job: str
    channel: str
    session_key: str
    user_id: str
    target: ReplyTarget
    text: str
    due_at: float
    status: str
    attempts: int


@dataclass(frozen=True, slots=True)
class JobState:
    next_due: float
    paused: bool


@runtime_checkable
class ScheduleReads(Protocol):
    """The scheduler tick's reads on connections of their own (PostgreSQL's raw asyncpg
    connections, store/pg_read.py): the same rows as `due` and `job_states` below select, by
    column name."""

    async def due_tasks(self, now: float, limit: int) -> list[Mapping[Any, Any]]: ...

    async def job_states(self) -> list[Mapping[Any, Any]]: ...


@dataclass(frozen=True, slots=True)
class _Sql:
    """The rows' prepared statements, built together at first use (a gateway on a SQLite file
    starts without SQLAlchemy: store/database.py)."""

    add: Executable
    claim: Executable
    finish: Update
    settle: Executable
    init_job: Executable
    advance: Update


def _build(statements: Statements) -> _Sql:
    from sqlalchemy import and_, bindparam, or_, update

    from aibot.store.schema import schedule_state, scheduled_tasks

    t = scheduled_tasks.c
    return _Sql(
        add=statements.insert_unless_present(
            scheduled_tasks, [t.job, t.due_at, t.session_key], t.id
        ),
        claim=statements.compare_and_set(
            update(scheduled_tasks)
            .where(
                t.id == bindparam("b_id"),
                or_(
                    t.status == "pending",
                    and_(t.status == "running", t.lease_until < bindparam("b_now")),
                ),
            )
            .values(
                status="running",
                owner=bindparam("b_owner"),
                lease_until=bindparam("b_until"),
                attempts=t.attempts + 1,
                updated_at=bindparam("b_now"),
            ),
            t.id,
        ),
        finish=update(scheduled_tasks).where(
            t.id == bindparam("b_id"), t.owner == bindparam("b_owner"), t.status == "running"
        ),
        settle=statements.compare_and_set(
            update(scheduled_tasks)
            .where(t.id == bindparam("b_id"), t.status == bindparam("b_from"))
            .values(status=bindparam("b_to"), updated_at=bindparam("b_now")),
            t.id,
        ),
        init_job=statements.insert_unless_present(
            schedule_state, [schedule_state.c.name], schedule_state.c.name
        ),
        advance=update(schedule_state).where(
            schedule_state.c.name == bindparam("b_name"),
            schedule_state.c.next_due == bindparam("b_expected"),
        ),
    )


class ScheduleRows:
    """`reads`: where the scheduler's tick reads (every second, on every replica; on PostgreSQL
    the session read's raw connections, one round trip each, where the engine added a pool
    checkout, `BEGIN`, `ROLLBACK` and greenlet switches, issue 20; on a SQLite file its plain
    sqlite3 reader, store/sqlite_read.py); the engine when None."""

    def __init__(
        self, engine: Database, *, cipher: Cipher = PLAIN, reads: ScheduleReads | None = None
    ) -> None:
        self.engine = engine
        self._cipher = cipher
        self._reads = reads
        self._statements = Statements(engine.name)

    @cached_property
    def _sql(self) -> _Sql:
        return _build(self._statements)

    # -- reads ---------------------------------------------------------------------------
    async def due(self, now: float, limit: int = 50) -> list[TaskRow]:
        """Pending tasks that are due, and running ones whose claimant's lease lapsed."""
        if self._reads is not None:
            return [self._task(r) for r in await self._reads.due_tasks(now, limit)]
        from sqlalchemy import and_, or_, select

        from aibot.store.schema import scheduled_tasks

        t = scheduled_tasks.c
        query = (
            select(scheduled_tasks)
            .where(
                or_(
                    and_(t.status == "pending", t.due_at <= now),
                    and_(t.status == "running", t.lease_until < now),
                )
            )
            .order_by(t.due_at)
            .limit(limit)
        )
        return await self._rows(query)

    async def pending_of(self, session_key: str, user_id: str, limit: int = 100) -> list[TaskRow]:
        from sqlalchemy import select

        from aibot.store.schema import scheduled_tasks

        t = scheduled_tasks.c
        query = (
            select(scheduled_tasks)
            .where(
                t.session_key == session_key,
                t.user_id == user_id,
                t.kind == "reminder",
                t.status == "pending",
            )
            .order_by(t.due_at)
            .limit(limit)
        )
        return await self._rows(query)

    async def recent_runs(self, limit: int = 50) -> list[TaskRow]:
        from sqlalchemy import select

        from aibot.store.schema import scheduled_tasks

        t = scheduled_tasks.c
        query = (
            select(scheduled_tasks).where(t.kind == "job").order_by(t.due_at.desc()).limit(limit)
        )
        return await self._rows(query)

    async def job_states(self) -> dict[str, JobState]:
        rows: list[Mapping[Any, Any]]
        if self._reads is not None:
            rows = await self._reads.job_states()
        else:
            from sqlalchemy import select

            from aibot.store.schema import schedule_state

            async with self.engine.connect() as connection:
                rows = [r._mapping for r in (await connection.execute(select(schedule_state)))]
        return {r["name"]: JobState(r["next_due"], bool(r["paused"])) for r in rows}

    async def _rows(self, query: Any) -> list[TaskRow]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [self._task(r._mapping) for r in rows]

    def _task(self, r: Mapping[Any, Any]) -> TaskRow:
        """A task's columns by name (a SQLAlchemy row's `_mapping`, an asyncpg record)."""
        return TaskRow(
            r["id"],
            r["kind"],
            r["job"],
            r["channel"],
            r["session_key"],
            r["user_id"],
            load_target(r["target"]),
            self._cipher.open(r["text"]),
            r["due_at"],
            r["status"],
            r["attempts"],
        )

    # -- writes --------------------------------------------------------------------------
    def add(
        self,
        *,
        kind: str,
        channel: str,
        session_key: str,
        target: ReplyTarget,
        text: str,
        due_at: float,
        now: float,
        job: str = "",
        user_id: str = "",
        status: str = "pending",
    ) -> Write:
        """A new task; yields its id, or None when this run of `job` is already a task."""
        row = {
            "kind": kind,
            "job": job,
            "channel": channel,
            "session_key": session_key,
            "user_id": user_id,
            "target": dump_target(target),
            "text": self._cipher.seal(text),
            "due_at": due_at,
            "status": status,
            "owner": None,
            "lease_until": 0.0,
            "attempts": 0,
            "created_at": now,
            "updated_at": now,
        }
        return Write(self._sql.add, row, returning=True)

    def claim(self, task_id: int, owner: str, now: float, lease: float) -> Write:
        """Yields the id when this owner now holds the task, else None."""
        params = {"b_id": task_id, "b_owner": owner[:128], "b_until": now + lease, "b_now": now}
        return Write(self._sql.claim, params, returning=True, matched=task_id)

    def finish(self, task_id: int, owner: str, status: str, now: float) -> Write:
        """Marks a claimed task done; fenced: fails the whole unit (and so the outbox row
        written with it) when the claim was lost to another process."""
        statement = self._sql.finish.values(status=status, lease_until=0.0, updated_at=now)
        return Write(statement, {"b_id": task_id, "b_owner": owner[:128]}, fenced=True)

    def settle(self, task_id: int, from_status: str, to_status: str, now: float) -> Write:
        """Moves a task from one status to another (cancel a pending reminder, record one as
        missed); yields the id, or None when it was no longer `from_status`."""
        params = {"b_id": task_id, "b_from": from_status, "b_to": to_status, "b_now": now}
        return Write(self._sql.settle, params, returning=True, matched=task_id)

    def init_job(self, name: str, next_due: float, now: float) -> Write:
        row = {"name": name, "next_due": next_due, "paused": 0, "updated_at": now}
        return Write(self._sql.init_job, row, returning=True)

    def advance_job(self, name: str, expected: float, next_due: float, now: float) -> Write:
        """Moves a schedule on from `expected` to `next_due`; fenced: only one process does."""
        statement = self._sql.advance.values(next_due=next_due, updated_at=now)
        return Write(statement, {"b_name": name, "b_expected": expected}, fenced=True)

    def set_paused(self, name: str, paused: bool, now: float) -> Write:
        from sqlalchemy import update

        from aibot.store.schema import schedule_state

        statement = (
            update(schedule_state)
            .where(schedule_state.c.name == name)
            .values(paused=int(paused), updated_at=now)
        )
        return Write(statement, {})
