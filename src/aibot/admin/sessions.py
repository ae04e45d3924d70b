"""Server-side console sessions: the cookie holds a random token, the table only its hash.

Server-side rows (rather than signed tokens) make logout and expiry immediate on every replica
and leave no signing key to protect; a stolen database yields no usable cookie. The rows are
kept by store/admin_sessions.py; the tokens, their hashes and the expiry are decided here.
"""

from __future__ import annotations

import hashlib
import secrets

from aibot.store import admin_sessions
from aibot.store.admin_sessions import Session
from aibot.store.database import Database


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
        await admin_sessions.add(self.engine, session, ip, now)
        return token, session

    async def find(self, token: str, now: float) -> Session | None:
        if not token or len(token) > 128:
            return None
        session = await admin_sessions.find(self.engine, token_id(token))
        if session is None or session.expires_at <= now:
            return None
        return session

    async def end(self, session_id: str) -> None:
        await admin_sessions.end(self.engine, session_id)

    async def end_all(self, user_id: int) -> None:
        """Signs a user out everywhere (after a password or role change)."""
        await admin_sessions.end_all(self.engine, user_id)
