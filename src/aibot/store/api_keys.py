"""API keys made in the console, in `api_keys`: a row per key with its SHA-256 and the first
characters people recognise it by, never the key itself. admin/keys.py makes the keys and
checks what people type; here the rows are written, revoked, replaced and read — every
unrevoked one for the request path's cache (channels/api_keys.py), whose refresh reads them at
start and then every `channels.api.key_refresh`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace as revised
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from aibot.store.database import Database, DatabaseConnection

if TYPE_CHECKING:
    from sqlalchemy import Row


@dataclass(frozen=True)
class KeyRow:
    id: int
    name: str
    prefix: str
    scope: str
    created_by: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def state(self, now: float) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"


@dataclass(frozen=True)
class NewKey:
    """What is stored of a key as it is made: its hash and shown prefix, never the key."""

    key_hash: str
    prefix: str
    created_by: str


@dataclass(frozen=True)
class KeyHash:
    """An unrevoked key as the request path checks it (expiry is checked per request)."""

    id: int
    key_hash: str
    scope: str
    expires_at: float | None


@runtime_checkable
class KeyReads(Protocol):
    """The keys' refresh on connections of its own (PostgreSQL's raw asyncpg connections,
    store/pg_read.py): the columns `unrevoked` selects, by name, for the same rows."""

    async def unrevoked_keys(self) -> list[Mapping[Any, Any]]: ...


async def add(
    engine: Database, new: NewKey, name: str, scope: str, now: float, expires_at: float | None
) -> KeyRow:
    async with engine.begin() as connection:
        return await _insert(connection, new, name, scope, now, expires_at)


async def replace(
    engine: Database, key_id: int, new: NewKey, now: float
) -> tuple[KeyRow, KeyRow] | None:
    """Revokes the key `key_id` and stores `new` with its name, scope and expiry, in one
    transaction (never both or neither usable); None when that key is not active at `now`.
    Returns the new row and the old one, revoked."""
    from sqlalchemy import select, update

    from aibot.store.schema import api_keys

    async with engine.begin() as connection:
        found = (
            await connection.execute(
                select(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            )
        ).one_or_none()
        old = None if found is None else _row(found)
        if old is None or old.state(now) != "active":
            return None
        await connection.execute(
            update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now)
        )
        row = await _insert(connection, new, old.name, old.scope, now, old.expires_at)
    return row, revised(old, revoked_at=now)


async def revoke(engine: Database, key_id: int, now: float) -> bool:
    """False when no unrevoked key has that id."""
    from sqlalchemy import update

    from aibot.store.schema import api_keys

    async with engine.begin() as connection:
        result = await connection.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id)
            .where(api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return bool(result.rowcount)


async def every(engine: Database) -> list[KeyRow]:
    """Every key ever made, newest first."""
    from sqlalchemy import select

    from aibot.store.schema import api_keys

    async with engine.connect() as connection:
        rows = (await connection.execute(select(api_keys).order_by(api_keys.c.id.desc()))).all()
    return [_row(r) for r in rows]


async def unrevoked(engine: Database, reads: KeyReads | None = None) -> list[KeyHash]:
    """Read on `reads` when given (PostgreSQL: one round trip, where the engine added a pool
    checkout, `BEGIN`, `ROLLBACK` and greenlet switches to a read every replica makes every
    `key_refresh`, issue 20; a SQLite file: plain sqlite3, store/sqlite_read.py), else on the
    engine."""
    rows: list[Mapping[Any, Any]]
    if reads is not None:
        rows = await reads.unrevoked_keys()
    else:
        from sqlalchemy import select

        from aibot.store.schema import api_keys

        query = select(
            api_keys.c.id, api_keys.c.key_hash, api_keys.c.scope, api_keys.c.expires_at
        ).where(api_keys.c.revoked_at.is_(None))
        async with engine.connect() as connection:
            rows = [r._mapping for r in await connection.execute(query)]
    return [KeyHash(r["id"], r["key_hash"], r["scope"], r["expires_at"]) for r in rows]


async def _insert(
    connection: DatabaseConnection,
    new: NewKey,
    name: str,
    scope: str,
    now: float,
    expires_at: float | None,
) -> KeyRow:
    from aibot.store.schema import api_keys

    result = await connection.execute(
        api_keys.insert().values(
            name=name,
            key_hash=new.key_hash,
            prefix=new.prefix,
            scope=scope,
            created_by=new.created_by,
            created_at=now,
            expires_at=expires_at,
        )
    )
    key_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return KeyRow(key_id, name, new.prefix, scope, new.created_by, now, expires_at, None)


def _row(r: Row[Any]) -> KeyRow:
    return KeyRow(
        r.id, r.name, r.prefix, r.scope, r.created_by, r.created_at, r.expires_at, r.revoked_at
    )
