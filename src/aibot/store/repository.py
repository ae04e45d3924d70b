"""Reads and write operations on the SQL store (SQLite, PostgreSQL or MySQL/MariaDB, same code;
the few statements that differ are built by store/dialects.py): conversations,
their turns, ratings and audit entries here, the inbox and outbox rows in `queues.py`, all on
one object. Writes are `Write`s for the group-commit writer, built as `queues.py` explains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aibot.core.feedback import RatedAnswer
from aibot.core.messages import ConversationRow, InboxRow, MessageOutcome, TurnRecord
from aibot.core.sessions import CachedTurn, Loaded
from aibot.store.carried_turns import carry, uncarry
from aibot.store.crypto import PLAIN, Cipher
from aibot.store.database import Database
from aibot.store.queues import QueuePolls, QueueRows
from aibot.store.rows import (
    Raw,
    RawSession,
    dump_tool_data,
    inbox_row,
    load_tool_data,
)
from aibot.store.session_read import EngineSessionRead, SessionRead, turn_columns
from aibot.store.writer import Write

if TYPE_CHECKING:
    from sqlalchemy.sql import Executable


@runtime_checkable
class Pinged(Protocol):
    """A session read that can tell the store answers (store/sqlite_read.py's, off the loop)."""

    async def ping(self) -> None: ...


@runtime_checkable
class DrainRead(Protocol):
    """A session read that also drains the inbox in the same statement (PostgreSQL's)."""

    async def drain(
        self, session_key: str, limit: int, keep: int | None
    ) -> tuple[list[Mapping[Any, Any]], RawSession | None]: ...


# Conversation settings a write may change besides `updated_at`.
CONVERSATION_CHANGES = ("model", "context_from")


class Repository(QueueRows):
    def __init__(
        self,
        engine: Database,
        *,
        fenced: bool = False,
        cipher: Cipher = PLAIN,
        session_read: SessionRead | None = None,
    ) -> None:
        polls = session_read if isinstance(session_read, QueuePolls) else None
        super().__init__(engine, fenced=fenced, cipher=cipher, polls=polls)
        self._session_read = session_read or EngineSessionRead(engine)
        self._drain = session_read if isinstance(session_read, DrainRead) else None
        self._conversation_upserts: dict[tuple[str, ...], Executable] = {}

    # The statements, built at first use: a gateway on a SQLite file starts without SQLAlchemy
    # (store/database.py), and builds each once.
    @cached_property
    def _add_turn(self) -> Executable:
        from aibot.store.schema import turns

        return turns.insert()

    @cached_property
    def _audit(self) -> Executable:
        from aibot.store.schema import audit_log

        return audit_log.insert()

    @cached_property
    def _log_message(self) -> Executable:
        from aibot.store.schema import message_log

        return message_log.insert()

    @cached_property
    def _reset_chat(self) -> Executable:
        from sqlalchemy import bindparam, or_, update

        from aibot.store.schema import conversations

        return (
            update(conversations)
            .where(
                or_(
                    conversations.c.session_key == bindparam("chat"),
                    conversations.c.session_key.like(bindparam("members"), escape="/"),
                )
            )
            .values(context_from=bindparam("now"), updated_at=bindparam("now"))
        )

    @cached_property
    def _save_rating(self) -> Any:
        from aibot.store.schema import ratings

        return self._statements.upsert(
            ratings, [ratings.c.request_id, ratings.c.user_id], ("score", "updated_at")
        )

    # -- reads ---------------------------------------------------------------------------
    async def load_session(self, session_key: str, keep: int) -> Loaded:
        """The conversation row and its newest `keep` turns after `context_from`, oldest
        first, in one read (store/session_read.py)."""
        return self._loaded(await self._session_read.load(session_key, keep))

    async def load_newer(self, session_key: str, after: float, limit: int) -> Loaded | None:
        """The row and its newest `limit` turns after `after` (a cached conversation catching
        up, core/sessions.py); None where the session read has no such read (PostgreSQL's
        has: store/pg_read.py)."""
        newer = getattr(self._session_read, "newer", None)
        return None if newer is None else self._loaded(await newer(session_key, after, limit))

    async def pending_with_session(
        self, session_key: str, limit: int, keep: int | None
    ) -> tuple[list[InboxRow], Loaded | None]:
        """A session's pending inbox rows (`pending_for_session`) and, with `keep`, its
        conversation as `load_session` reads it. On PostgreSQL both come from one statement
        on the session read's own connections (store/pg_read.py); elsewhere, two reads."""
        if self._drain is None:
            rows = await self.pending_for_session(session_key, limit)
            return rows, None if keep is None else await self.load_session(session_key, keep)
        pending, raw = await self._drain.drain(session_key, limit, keep)
        rows = [inbox_row(r, text=self._cipher.open(r["text"])) for r in pending]
        return rows, None if raw is None else self._loaded(raw)

    def carry_turns(self, turns: Sequence[CachedTurn]) -> str | None:
        """Appended turns in the form they travel with a lock's stamp (core/sessions.py)."""
        return carry(self._cipher, turns)

    def carried_turns(self, carried: str) -> list[TurnRecord] | None:
        return uncarry(self._cipher, carried)

    def _loaded(self, raw: RawSession) -> Loaded:
        row, newest_first = raw
        if row is None:
            return None, []
        return ConversationRow(row[0], row[1], row[2]), [
            self._turn(r) for r in reversed(newest_first)
        ]

    def _turn(self, r: Raw) -> TurnRecord:
        return TurnRecord(
            role=r[0],
            content=self._cipher.open(r[1]),
            created_at=r[2],
            reasoning=self._cipher.open_optional(r[3]),
            provider=r[4],
            model=r[5],
            request_id=r[6],
            route=r[7],
            **load_tool_data(self._cipher.open_optional(r[8])),
        )

    async def close(self) -> None:
        """Ends the session read's own thread and connection, if it has them."""
        await self._session_read.close()

    async def recent_turns(self, session_key: str, since: float, limit: int) -> list[TurnRecord]:
        """The newest `limit` turns after `since`, oldest first."""
        from sqlalchemy import and_

        from aibot.store.schema import turns

        query = (
            turn_columns()
            .where(and_(turns.c.session_key == session_key, turns.c.created_at > since))
            .order_by(turns.c.created_at.desc(), turns.c.id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [self._turn(tuple(r)) for r in reversed(rows)]

    async def answer(self, request_id: str) -> RatedAnswer | None:
        """The assistant turn a rating refers to."""
        from sqlalchemy import and_, select

        from aibot.store.schema import turns

        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(turns.c.session_key, turns.c.provider, turns.c.model, turns.c.route)
                    .where(and_(turns.c.request_id == request_id, turns.c.role == "assistant"))
                    .limit(1)
                )
            ).first()
        return (
            RatedAnswer(request_id, row.session_key, row.provider, row.model, row.route)
            if row
            else None
        )

    async def ping(self) -> None:
        if isinstance(self._session_read, Pinged):
            await self._session_read.ping()
            return
        from sqlalchemy import select

        async with self.engine.connect() as connection:
            await connection.execute(select(1))

    # -- writes --------------------------------------------------------------------------
    def save_conversation(
        self, session_key: str, channel: str, user_id: str, now: float, **changes: Any
    ) -> Write:
        """Creates the conversation row if needed and applies `changes` (model, context_from)."""
        unknown = set(changes) - set(CONVERSATION_CHANGES)
        if unknown:
            raise ValueError(f"not a conversation setting: {sorted(unknown)}")
        changed = tuple(sorted(changes))
        statement = self._conversation_upserts.get(changed)
        if statement is None:
            from aibot.store.schema import conversations

            statement = self._statements.upsert(
                conversations, [conversations.c.session_key], ("updated_at", *changed)
            )
            self._conversation_upserts[changed] = statement
        params = {
            "session_key": session_key,
            "channel": channel,
            "user_id": user_id,
            "model": None,
            "context_from": 0.0,
            "created_at": now,
            "updated_at": now,
        }
        params.update(changes)
        return Write(statement, params)

    def add_turns(self, session_key: str, records: list[TurnRecord]) -> list[Write]:
        return [
            Write(
                self._add_turn,
                {
                    "session_key": session_key,
                    "role": r.role,
                    "content": self._cipher.seal(r.content),
                    "reasoning": self._cipher.seal_optional(r.reasoning),
                    "provider": r.provider,
                    "model": r.model,
                    "prompt_tokens": r.prompt_tokens,
                    "completion_tokens": r.completion_tokens,
                    "request_id": r.request_id,
                    "route": r.route,
                    "tool_data": self._cipher.seal_optional(dump_tool_data(r)),
                    "created_at": r.created_at,
                },
            )
            for r in records
        ]

    def save_rating(
        self, answer: RatedAnswer, channel: str, user_id: str, score: int, now: float
    ) -> Write:
        return Write(
            self._save_rating,
            {
                "request_id": answer.request_id,
                "user_id": user_id,
                "channel": channel,
                "session_key": answer.session_key,
                "score": score,
                "provider": answer.provider,
                "model": answer.model,
                "route": answer.route,
                "created_at": now,
                "updated_at": now,
            },
        )

    def log_message(self, outcome: MessageOutcome) -> Write:
        """The dashboard's row for one handled message (`store/series.py` reads them)."""
        return Write(
            self._log_message,
            {
                "at": outcome.at,
                "channel": outcome.channel[:32],
                "provider": outcome.provider[:128] if outcome.provider else None,
                "failed": int(outcome.failed),
                "seconds": outcome.seconds,
                "tokens": outcome.tokens,
            },
        )

    def audit(self, actor: str, action: str, target: str, now: float) -> Write:
        return Write(
            self._audit,
            {
                "at": now,
                "actor": actor[:64],
                "action": action[:64],
                "target": target[:2000],
                "ip": "",
            },
        )

    def reset_chat(self, chat_key: str, now: float) -> Write:
        escaped = chat_key.replace("/", "//").replace("%", "/%").replace("_", "/_")
        return Write(self._reset_chat, {"chat": chat_key, "members": escaped + ":%", "now": now})
