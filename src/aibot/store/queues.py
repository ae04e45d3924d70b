"""The durable inbox and outbox as rows: accept, finish, enqueue, claim and the pending reads.

Writes are returned as `Write`s for the group-commit writer so callers choose which of them must
land in one transaction (a reply, its turns and the inbox row it completes). Statements are
built once per repository: the writer batches writes that share a statement object into one
executemany, and SQLAlchemy's compiled cache is hit instead of rebuilt per message.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aibot.core.messages import Attachment, InboxRow, OutboxRow, ReplyTarget
from aibot.store.crypto import PLAIN, Cipher
from aibot.store.database import Database
from aibot.store.dialects import Statements
from aibot.store.rows import dump_target, inbox_row, outbox_row
from aibot.store.writer import Write

if TYPE_CHECKING:
    from sqlalchemy.sql import Executable


@runtime_checkable
class QueuePolls(Protocol):
    """The background polls' reads on connections of their own (PostgreSQL's raw asyncpg
    connections, store/pg_read.py): the same rows as the queries below, by column name."""

    async def pending_inbox(
        self, limit: int, exclude_channels: frozenset[str]
    ) -> list[Mapping[Any, Any]]: ...

    async def pending_outbox(self, limit: int) -> list[Mapping[Any, Any]]: ...

    async def inbox_backlog(self) -> tuple[int, float | None]: ...


class QueueRows:
    """`fenced`: finishing an inbox row fails its whole transaction when the row is no longer
    pending. Several replicas turn it on, so that a replica whose session lock lapsed (a long
    pause, a partition) cannot commit a second answer to a message another replica answered.

    `cipher` seals message text and answers as rows are built and opens them as they are read
    (store/crypto.py); with encryption off it passes them through.

    `polls`: where the outbox poll, the inbox rescan and its backlog read (on PostgreSQL the
    session read's raw connections: one round trip each, where the engine added a pool
    checkout, `BEGIN`, `ROLLBACK` and greenlet switches, 1-1.5 ms of CPU per read, issue 20);
    the engine when None."""

    def __init__(
        self,
        engine: Database,
        *,
        fenced: bool = False,
        cipher: Cipher = PLAIN,
        polls: QueuePolls | None = None,
    ) -> None:
        self.engine = engine
        self._polls = polls
        self._fenced = fenced
        self._cipher = cipher
        self._statements = Statements(engine.name)
        self._outbox_updates: dict[tuple[str, ...], Executable] = {}

    # The statements, built at first use: a gateway on a SQLite file starts without SQLAlchemy
    # (store/database.py), and builds each once.
    @cached_property
    def _accept_inbox(self) -> Executable:
        from aibot.store.schema import inbox

        return self._statements.insert_unless_present(
            inbox, [inbox.c.channel, inbox.c.message_id], inbox.c.id
        )

    @cached_property
    def _finish_inbox(self) -> Executable:
        from sqlalchemy import and_, bindparam, update

        from aibot.store.schema import inbox

        return (
            update(inbox)
            .where(and_(inbox.c.id == bindparam("row_id"), inbox.c.status == "pending"))
            .values(
                status=bindparam("v_status"),
                error=bindparam("v_error"),
                updated_at=bindparam("now"),
                attempts=inbox.c.attempts + 1,
            )
        )

    @cached_property
    def _enqueue_outbox(self) -> Executable:
        from aibot.store.schema import outbox

        return outbox.insert()

    @cached_property
    def _claim_outbox(self) -> Executable:
        from sqlalchemy import and_, bindparam, or_, update

        from aibot.store.schema import outbox

        claim = (
            update(outbox)
            .where(
                and_(
                    outbox.c.id == bindparam("row_id"),
                    outbox.c.status == "pending",
                    or_(
                        outbox.c.owner.is_(None),
                        outbox.c.owner == bindparam("seen"),
                        outbox.c.owner == bindparam("me"),
                    ),
                )
            )
            .values(owner=bindparam("me"))
        )
        return self._statements.compare_and_set(claim, outbox.c.id)

    # -- reads ---------------------------------------------------------------------------
    async def pending_inbox(
        self, limit: int, exclude_ids: set[int], exclude_channels: frozenset[str] = frozenset()
    ) -> list[InboxRow]:
        """Pending rows oldest first; paused channels are left out in SQL so that their
        backlog cannot fill the page and starve the other channels."""
        if self._polls is not None:
            records = await self._polls.pending_inbox(limit + len(exclude_ids), exclude_channels)
            rows = [inbox_row(r, text=self._cipher.open(r["text"])) for r in records]
        else:
            from sqlalchemy import select

            from aibot.store.schema import inbox

            query = (
                select(inbox)
                .where(inbox.c.status == "pending")
                .order_by(inbox.c.id)
                .limit(limit + len(exclude_ids))
            )
            if exclude_channels:
                query = query.where(inbox.c.channel.not_in(exclude_channels))
            rows = await self._inbox_rows(query)
        return [row for row in rows if row.id not in exclude_ids][:limit]

    async def pending_for_session(self, session_key: str, limit: int) -> list[InboxRow]:
        """A session's pending rows in arrival order: what its lock holder answers next."""
        from sqlalchemy import and_, select

        from aibot.store.schema import inbox

        return await self._inbox_rows(
            select(inbox)
            .where(and_(inbox.c.session_key == session_key, inbox.c.status == "pending"))
            .order_by(inbox.c.id)
            .limit(limit)
        )

    async def _inbox_rows(self, query: Executable) -> list[InboxRow]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [inbox_row(r._mapping, text=self._cipher.open(r.text)) for r in rows]

    async def inbox_backlog(self) -> tuple[int, float | None]:
        """How many received messages are unanswered, and when the oldest arrived (None if
        none): one aggregate over the (status, id) index, for the gauges."""
        if self._polls is not None:
            return await self._polls.inbox_backlog()
        from sqlalchemy import func, select

        from aibot.store.schema import inbox

        query = select(func.count(), func.min(inbox.c.received_at)).where(
            inbox.c.status == "pending"
        )
        async with self.engine.connect() as connection:
            count, oldest = (await connection.execute(query)).one()
        return int(count), oldest

    async def pending_outbox(self, limit: int) -> list[OutboxRow]:
        """Pending replies oldest first, due or not: the sender keeps each session in order."""
        records: list[Mapping[Any, Any]]
        if self._polls is not None:
            records = await self._polls.pending_outbox(limit)
        else:
            from sqlalchemy import select

            from aibot.store.schema import outbox

            query = (
                select(outbox)
                .where(outbox.c.status == "pending")
                .order_by(outbox.c.id)
                .limit(limit)
            )
            async with self.engine.connect() as connection:
                records = [r._mapping for r in (await connection.execute(query)).all()]
        return [outbox_row(r, text=self._cipher.open(r["text"])) for r in records]

    # -- writes --------------------------------------------------------------------------
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
    ) -> Write:
        """Yields the new row id, or None when (channel, message_id) was already accepted.
        Attachments are stored as the platform's ids, before anything is downloaded."""
        return Write(
            self._accept_inbox,
            {
                "channel": channel,
                "message_id": message_id,
                "session_key": session_key,
                "user_id": user_id,
                "text": self._cipher.seal(text),
                "target": dump_target(
                    target,
                    principal=principal,
                    request_id=request_id,
                    attachments=attachments,
                    batch=batch,
                ),
                "status": "pending",
                "attempts": 0,
                "received_at": now,
                "updated_at": now,
            },
            returning=True,
        )

    def record_event(
        self, channel: str, event_id: str, chat_key: str, kind: str, now: float
    ) -> Write:
        """Kept in the inbox (status `event`) for its dedupe; yields None for a re-delivery."""
        return Write(
            self._accept_inbox,
            {
                "channel": channel,
                "message_id": f"event:{event_id}",
                "session_key": chat_key,
                "user_id": "",
                "text": self._cipher.seal(kind),
                "target": "{}",
                "status": "event",
                "attempts": 0,
                "received_at": now,
                "updated_at": now,
            },
            returning=True,
        )

    def finish_inbox(
        self, inbox_id: int, status: str, now: float, error: str | None = None
    ) -> Write:
        return Write(
            self._finish_inbox,
            {"row_id": inbox_id, "v_status": status, "v_error": error, "now": now},
            fenced=self._fenced,
        )

    def enqueue_outbox(
        self,
        inbox_id: int | None,
        channel: str,
        session_key: str,
        target: ReplyTarget,
        text: str,
        now: float,
    ) -> Write:
        return Write(
            self._enqueue_outbox,
            {
                "inbox_id": inbox_id,
                "channel": channel,
                "session_key": session_key,
                "target": dump_target(target),
                "text": self._cipher.seal(text),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "last_error": None,
                "created_at": now,
                "updated_at": now,
            },
        )

    def claim_outbox(self, outbox_id: int, me: str, seen: str | None) -> Write:
        """Takes a pending reply for this replica unless another took it since it was read as
        owned by `seen` (None, or a replica found dead): a compare-and-set on the owner that
        yields the row id, or None when the claim lost. Through the writer, the claims of one
        outbox pass share a commit."""
        return Write(
            self._claim_outbox,
            {"row_id": outbox_id, "me": me, "seen": seen},
            returning=True,
            matched=outbox_id,
        )

    def update_outbox(self, outbox_id: int, now: float, **values: Any) -> Write:
        changed = tuple(sorted(values))
        statement = self._outbox_updates.get(changed)
        if statement is None:
            from sqlalchemy import bindparam, update

            from aibot.store.schema import outbox

            statement = (
                update(outbox)
                .where(outbox.c.id == bindparam("row_id"))
                .values(
                    updated_at=bindparam("now"),
                    **{name: bindparam(f"v_{name}") for name in changed},
                )
            )
            self._outbox_updates[changed] = statement
        return Write(
            statement,
            {
                "row_id": outbox_id,
                "now": now,
                **{f"v_{name}": value for name, value in values.items()},
            },
        )
