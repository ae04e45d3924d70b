"""Server-side console sessions: the cookie holds a random token, the table only its hash.

Server-side rows (rather than signed tokens) make logout and expiry immediate on every replica
and leave no signing key to protect; a stolen database yields no usable cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select

from aibot.store.database import Database
from aibot.store.schema import admin_sessions


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    csrf: str
    expires_at: float


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(self, engine: Database, ttl: float) -> None:
        self.engine = engine
        self.ttl = ttl

    async def create(self, user_id: int, ip: str, now: float) -> tuple[str, Session]:
        """A new session; returns the cookie token (shown to nobody else) and the row."""
        token = secrets.token_urlsafe(32)
        session = Session(token_id(token), user_id, secrets.token_urlsafe(32), now + self.ttl)
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(admin_sessions).where(admin_sessions.c.expires_at < now)
            )
            await connection.execute(
                admin_sessions.insert().values(
                    id=session.id,
                    user_id=user_id,
                    csrf=session.csrf,
                    ip=ip[:64],
                    created_at=now,
                    expires_at=session.expires_at,
                )
            )
        return token, session

    async def find(self, token: str, now: float) -> Session | None:
        if not token or len(token) > 128:
            return None
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(
                    select(admin_sessions).where(admin_sessions.c.id == token_id(token))
                )
            ).first()
        if row is None or row.expires_at <= now:
            return None
        return Session(row.id, row.user_id, row.csrf, row.expires_at)

    async def end(self, session_id: str) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(admin_sessions).where(admin_sessions.c.id == session_id)
            )

    async def end_all(self, user_id: int) -> None:
        """Signs a user out everywhere (after a password or role change)."""
        async with self.engine.begin() as connection:
            await connection.execute(
                delete(admin_sessions).where(admin_sessions.c.user_id == user_id)
            )
