"""The `media` table: one row per picture, voice note or file a user sent, naming its blob.

Rows are written with the turn they belong to (through the group-commit writer), so an answer
and the record of what it was asked about land together. They serve follow-ups (the pictures of
the turns still in the context are sent again), the per-user daily quota, the console's
conversation view, and retention (`retention.media_days`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from aibot.store.database import Database
from aibot.store.writer import Write

if TYPE_CHECKING:
    from sqlalchemy.sql import Executable


@dataclass(frozen=True, slots=True)
class MediaRow:
    id: int
    session_key: str
    request_id: str
    kind: str
    mime: str
    name: str
    size: int
    blob: str
    created_at: float


class MediaRows:
    def __init__(self, engine: Database) -> None:
        self.engine = engine

    @cached_property
    def _insert(self) -> Executable:
        """Built at first use: a gateway on a SQLite file starts without SQLAlchemy."""
        from aibot.store.schema import media

        return media.insert()

    def record(
        self,
        *,
        session_key: str,
        channel: str,
        user_id: str,
        request_id: str,
        kind: str,
        mime: str,
        name: str,
        size: int,
        blob: str,
        now: float,
    ) -> Write:
        return Write(
            self._insert,
            {
                "session_key": session_key,
                "channel": channel,
                "user_id": user_id,
                "request_id": request_id,
                "kind": kind,
                "mime": mime,
                "name": name[:255],
                "size": size,
                "blob": blob,
                "created_at": now,
            },
        )

    async def for_requests(self, session_key: str, request_ids: list[str]) -> list[MediaRow]:
        """The attachments of these turns of one conversation, oldest first."""
        from sqlalchemy import and_

        from aibot.store.schema import media

        if not request_ids:
            return []
        return await self._rows(
            and_(media.c.session_key == session_key, media.c.request_id.in_(request_ids))
        )

    async def for_session(self, session_key: str, limit: int = 200) -> list[MediaRow]:
        from aibot.store.schema import media

        return await self._rows(media.c.session_key == session_key, limit)

    async def count_since(self, user_id: str, since: float) -> int:
        """How many attachments `user_id` sent since `since`: the daily quota's count."""
        from sqlalchemy import and_, func, select

        from aibot.store.schema import media

        query = select(func.count()).where(
            and_(media.c.user_id == user_id, media.c.created_at >= since)
        )
        async with self.engine.connect() as connection:
            return int((await connection.execute(query)).scalar_one())

    async def by_id(self, row_id: int) -> MediaRow | None:
        from aibot.store.schema import media

        rows = await self._rows(media.c.id == row_id, 1)
        return rows[0] if rows else None

    async def _rows(self, condition: object, limit: int = 500) -> list[MediaRow]:
        from sqlalchemy import select

        from aibot.store.schema import media

        query = (
            select(
                media.c.id,
                media.c.session_key,
                media.c.request_id,
                media.c.kind,
                media.c.mime,
                media.c.name,
                media.c.size,
                media.c.blob,
                media.c.created_at,
            )
            .where(condition)  # type: ignore[arg-type]
            .order_by(media.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            return [MediaRow(*row) for row in (await connection.execute(query)).all()]
