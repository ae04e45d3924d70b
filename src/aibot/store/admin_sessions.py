"""The console's sessions in `admin_sessions`: one row per signed-in browser, keyed by the hash
of its cookie token. admin/sessions.py makes the tokens and decides expiry; here they are stored,
found and ended, on every replica alike."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from aibot.store.database import Database
from aibot.store.schema import admin_sessions

IP_MAX = 64


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    csrf: str
    expires_at: float


async def add(engine: Database, session: Session, ip: str, now: float) -> None:
    """Stores `session`, deleting the sessions expired by `now` in the same transaction (so
    the table holds only live ones without a sweeper)."""
    async with engine.begin() as connection:
        await connection.execute(delete(admin_sessions).where(admin_sessions.c.expires_at < now))
        await connection.execute(
            admin_sessions.insert().values(
                id=session.id,
                user_id=session.user_id,
                csrf=session.csrf,
                ip=ip[:IP_MAX],
                created_at=now,
                expires_at=session.expires_at,
            )
        )


async def find(engine: Database, session_id: str) -> Session | None:
    """The stored session of that id, expired or not."""
    query = select(admin_sessions).where(admin_sessions.c.id == session_id)
    async with engine.connect() as connection:
        row = (await connection.execute(query)).first()
    return None if row is None else Session(row.id, row.user_id, row.csrf, row.expires_at)


async def end(engine: Database, session_id: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(admin_sessions).where(admin_sessions.c.id == session_id))


async def end_all(engine: Database, user_id: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(admin_sessions).where(admin_sessions.c.user_id == user_id))
