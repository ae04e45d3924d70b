"""Pairing codes: an unknown user asks, an admin approves with `ai-bot pairing approve CODE`.

Kept in the SQL store (not the group-commit writer: these are rare and the CLI writes them from
another process), so codes survive restarts and every replica sees the same approvals.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aibot.store.database import Database

# No 0/O or 1/I/L: codes are read aloud and typed by hand.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


def canonical_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class Pairing:
    channel: str
    user_id: str
    code: str
    status: str
    expires_at: float


class PairingStore:
    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def is_approved(self, channel: str, user_id: str) -> bool:
        from sqlalchemy import and_, select

        from aibot.store.schema import pairings

        async with self._engine.connect() as connection:
            status = (
                await connection.execute(
                    select(pairings.c.status).where(
                        and_(pairings.c.channel == channel, pairings.c.user_id == user_id)
                    )
                )
            ).scalar()
        return status == "approved"

    async def request(
        self, channel: str, user_id: str, now: float, ttl: float, max_pending: int
    ) -> str | None:
        """The user's pending code (a new one if theirs expired); None when too many wait."""
        from sqlalchemy import and_, delete, func, select
        from sqlalchemy.exc import IntegrityError

        from aibot.store.schema import pairings

        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    select(pairings.c.code, pairings.c.expires_at, pairings.c.status).where(
                        and_(pairings.c.channel == channel, pairings.c.user_id == user_id)
                    )
                )
            ).first()
            if row is not None and row.status == "pending" and row.expires_at > now:
                return str(row.code)
            waiting = (
                await connection.execute(
                    select(func.count())
                    .select_from(pairings)
                    .where(and_(pairings.c.status == "pending", pairings.c.expires_at > now))
                )
            ).scalar_one()
            if waiting >= max_pending:
                return None
            await connection.execute(
                delete(pairings).where(
                    and_(pairings.c.channel == channel, pairings.c.user_id == user_id)
                )
            )
            code = new_code()
            try:
                await connection.execute(
                    pairings.insert().values(
                        channel=channel,
                        user_id=user_id,
                        code=code,
                        status="pending",
                        created_at=now,
                        expires_at=now + ttl,
                        approved_at=None,
                    )
                )
            except IntegrityError:
                return None  # a code collision or a concurrent request: the user asks again
        return code

    async def approve(self, code: str, now: float) -> Pairing | None:
        """Approves a pending, unexpired code; None if there is no such code."""
        from sqlalchemy import and_, select, update

        from aibot.store.schema import pairings

        wanted = canonical_code(code)
        async with self._engine.begin() as connection:
            row = (
                await connection.execute(
                    select(pairings).where(
                        and_(
                            pairings.c.code == wanted,
                            pairings.c.status == "pending",
                            pairings.c.expires_at > now,
                        )
                    )
                )
            ).first()
            if row is None:
                return None
            await connection.execute(
                update(pairings)
                .where(pairings.c.code == wanted)
                .values(status="approved", approved_at=now)
            )
        return Pairing(row.channel, row.user_id, row.code, "approved", row.expires_at)

    async def revoke(self, channel: str, user_id: str) -> bool:
        from sqlalchemy import and_, delete

        from aibot.store.schema import pairings

        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(pairings).where(
                    and_(pairings.c.channel == channel, pairings.c.user_id == user_id)
                )
            )
        return bool(result.rowcount)

    async def listing(self, now: float) -> list[Pairing]:
        """Approved users and unexpired pending codes."""
        from sqlalchemy import select

        from aibot.store.schema import pairings

        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(pairings)
                    .where((pairings.c.status == "approved") | (pairings.c.expires_at > now))
                    .order_by(pairings.c.created_at)
                )
            ).all()
        return [Pairing(r.channel, r.user_id, r.code, r.status, r.expires_at) for r in rows]
