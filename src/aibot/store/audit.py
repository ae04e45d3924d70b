"""The audit log: who changed what, when, from which address. Append-only: the console and
the CLI write it, the console's audit page reads it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from aibot.store.database import Database
from aibot.store.schema import audit_log


@dataclass(frozen=True)
class AuditEntry:
    at: float
    actor: str
    action: str
    target: str
    ip: str


class AuditLog:
    def __init__(self, engine: Database) -> None:
        self.engine = engine

    async def record(self, entry: AuditEntry) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                audit_log.insert().values(
                    at=entry.at,
                    actor=entry.actor[:64],
                    action=entry.action[:64],
                    target=entry.target[:2000],
                    ip=entry.ip[:64],
                )
            )

    async def recent(self, limit: int = 200, actor: str | None = None) -> list[AuditEntry]:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if actor:
            query = query.where(audit_log.c.actor == actor)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [AuditEntry(r.at, r.actor, r.action, r.target, r.ip) for r in rows]
