"""Reads and write operations on the SQL store (SQLite or PostgreSQL, same statements).

Writes are returned as operations for the group-commit writer so callers choose which of them
must land in one transaction (a reply, its turns and the inbox row it completes).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Insert, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from aibot.core.messages import ConversationRow, InboxRow, OutboxRow, TurnRecord
from aibot.store.schema import conversations, inbox, outbox, turns
from aibot.store.writer import WriteOp


def _insert(connection: AsyncConnection, table: Any) -> Any:
    """The dialect's own INSERT, which knows ON CONFLICT."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


class Repository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- reads ---------------------------------------------------------------------------
    async def conversation(self, session_key: str) -> ConversationRow | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(
                select(conversations.c.model, conversations.c.context_from)
                .where(conversations.c.session_key == session_key)
            )).first()
        return ConversationRow(row.model, row.context_from) if row else None

    async def recent_turns(self, session_key: str, since: float, limit: int) -> list[TurnRecord]:
        """The newest `limit` turns after `since`, oldest first."""
        query = (
            select(turns.c.role, turns.c.content, turns.c.created_at, turns.c.reasoning,
                   turns.c.provider, turns.c.model)
            .where(and_(turns.c.session_key == session_key, turns.c.created_at > since))
            .order_by(turns.c.created_at.desc(), turns.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            TurnRecord(role=r.role, content=r.content, created_at=r.created_at,
                       reasoning=r.reasoning, provider=r.provider, model=r.model)
            for r in reversed(rows)
        ]

    async def pending_inbox(self, limit: int, exclude_ids: set[int]) -> list[InboxRow]:
        query = select(inbox).where(inbox.c.status == "pending").order_by(inbox.c.id).limit(
            limit + len(exclude_ids)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            InboxRow(r.id, r.channel, r.message_id, r.session_key, r.user_id, r.text,
                     orjson.loads(r.target), r.received_at, r.attempts)
            for r in rows if r.id not in exclude_ids
        ][:limit]

    async def pending_outbox(self, limit: int) -> list[OutboxRow]:
        """Pending replies oldest first, due or not: the sender keeps each session in order."""
        query = select(outbox).where(outbox.c.status == "pending").order_by(outbox.c.id).limit(
            limit
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            OutboxRow(r.id, r.inbox_id, r.channel, r.session_key, orjson.loads(r.target), r.text,
                      r.attempts, r.created_at, r.next_attempt_at)
            for r in rows
        ]

    async def count(self, table_name: str, status: str) -> int:
        table = {"inbox": inbox, "outbox": outbox}[table_name]
        async with self.engine.connect() as connection:
            return int((await connection.execute(
                select(func.count()).select_from(table).where(table.c.status == status)
            )).scalar() or 0)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(select(1))

    # -- write operations ----------------------------------------------------------------
    @staticmethod
    def save_conversation(
        session_key: str, channel: str, user_id: str, now: float, **changes: Any
    ) -> WriteOp:
        """Creates the conversation row if needed and applies `changes` (model, context_from)."""

        async def op(connection: AsyncConnection) -> None:
            values = {"session_key": session_key, "channel": channel, "user_id": user_id,
                      "model": None, "context_from": 0.0, "created_at": now, "updated_at": now}
            values.update(changes)
            statement = _insert(connection, conversations).values(**values)
            await connection.execute(statement.on_conflict_do_update(
                index_elements=[conversations.c.session_key],
                set_={"updated_at": now, **changes},
            ))

        return op

    @staticmethod
    def add_turns(session_key: str, records: list[TurnRecord]) -> WriteOp:
        async def op(connection: AsyncConnection) -> None:
            await connection.execute(turns.insert(), [
                {"session_key": session_key, "role": r.role, "content": r.content,
                 "reasoning": r.reasoning, "provider": r.provider, "model": r.model,
                 "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                 "request_id": r.request_id, "created_at": r.created_at}
                for r in records
            ])

        return op

    @staticmethod
    def accept_inbox(
        channel: str, message_id: str, session_key: str, user_id: str, text: str,
        target: dict[str, Any], now: float,
    ) -> WriteOp:
        """Returns the new row id, or None when (channel, message_id) was already accepted."""

        async def op(connection: AsyncConnection) -> int | None:
            statement: Insert = _insert(connection, inbox).values(
                channel=channel, message_id=message_id, session_key=session_key,
                user_id=user_id, text=text, target=orjson.dumps(target).decode(),
                status="pending", attempts=0, received_at=now, updated_at=now,
            ).on_conflict_do_nothing(index_elements=[inbox.c.channel, inbox.c.message_id])
            result = await connection.execute(statement.returning(inbox.c.id))
            row = result.first()
            return int(row[0]) if row else None

        return op

    @staticmethod
    def finish_inbox(inbox_id: int, status: str, now: float, error: str | None = None) -> WriteOp:
        async def op(connection: AsyncConnection) -> None:
            await connection.execute(
                update(inbox).where(inbox.c.id == inbox_id).values(
                    status=status, error=error, updated_at=now, attempts=inbox.c.attempts + 1
                )
            )

        return op

    @staticmethod
    def enqueue_outbox(
        inbox_id: int | None, channel: str, session_key: str, target: dict[str, Any], text: str,
        now: float,
    ) -> WriteOp:
        async def op(connection: AsyncConnection) -> int:
            result = await connection.execute(outbox.insert().values(
                inbox_id=inbox_id, channel=channel, session_key=session_key,
                target=orjson.dumps(target).decode(), text=text, status="pending", attempts=0,
                next_attempt_at=now, created_at=now, updated_at=now,
            ).returning(outbox.c.id))
            return int(result.scalar_one())

        return op

    @staticmethod
    def update_outbox(outbox_id: int, now: float, **values: Any) -> WriteOp:
        async def op(connection: AsyncConnection) -> None:
            await connection.execute(
                update(outbox).where(outbox.c.id == outbox_id).values(updated_at=now, **values)
            )

        return op
