"""API keys made in the console: shown once, stored as SHA-256, revocable, rotatable,
optionally expiring.

SHA-256 (not argon2) is right here: a key is 256 random bits, so an attacker holding the
table cannot brute-force it whatever the hash speed, while slow hashing would cost every API
request. Passwords are different (people choose them) and get argon2id.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update

from aibot import i18n
from aibot.admin.inputs import printable
from aibot.admin.words import _
from aibot.channels.api_keys import ADMIN_SCOPE, SCOPE_PREFIXES, StoredKey
from aibot.store.database import Database, DatabaseConnection
from aibot.store.schema import api_keys

KEY_PREFIX = "aib_"
SCOPES = ("all", *SCOPE_PREFIXES, ADMIN_SCOPE)
_SHOWN = len(KEY_PREFIX) + 6


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


async def _insert(
    connection: DatabaseConnection,
    name: str,
    scope: str,
    created_by: str,
    now: float,
    expires_at: float | None,
) -> tuple[str, KeyRow]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    result = await connection.execute(
        api_keys.insert().values(
            name=name,
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            prefix=key[:_SHOWN],
            scope=scope,
            created_by=created_by,
            created_at=now,
            expires_at=expires_at,
        )
    )
    key_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return key, KeyRow(key_id, name, key[:_SHOWN], scope, created_by, now, expires_at, None)


class ApiKeyStore:
    def __init__(self, engine: Database) -> None:
        self.engine = engine

    async def create(
        self, name: str, scope: str, created_by: str, now: float, expires_at: float | None
    ) -> tuple[str, KeyRow]:
        """Makes a key; the plaintext is returned here once and never stored."""
        if scope not in SCOPES:
            raise ValueError(
                _(
                    "The scope must be one of {scopes}.",
                    scopes=i18n.join_list(i18n.request_language(), SCOPES),
                )
            )
        name = printable(name, 128)
        if not name:
            raise ValueError(_("Give the key a name (who or what uses it)."))
        async with self.engine.begin() as connection:
            return await _insert(connection, name, scope, created_by, now, expires_at)

    async def rotate(
        self, key_id: int, created_by: str, now: float
    ) -> tuple[str, KeyRow, KeyRow] | None:
        """Replaces an active key by a new one with the same name, scope and expiry, in one
        transaction (never both or neither usable); None when no active key has that id.
        Returns the new plaintext, the new row and the revoked old row."""
        async with self.engine.begin() as connection:
            old = (
                await connection.execute(
                    select(api_keys).where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                )
            ).one_or_none()
            if old is None or (old.expires_at is not None and now >= old.expires_at):
                return None
            await connection.execute(
                update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now)
            )
            key, row = await _insert(
                connection, old.name, old.scope, created_by, now, old.expires_at
            )
        return (
            key,
            row,
            KeyRow(
                old.id,
                old.name,
                old.prefix,
                old.scope,
                old.created_by,
                old.created_at,
                old.expires_at,
                now,
            ),
        )

    async def revoke(self, key_id: int, now: float) -> KeyRow | None:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id)
                .where(api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        if not result.rowcount:
            return None
        return next((k for k in await self.all() if k.id == key_id), None)

    async def all(self) -> list[KeyRow]:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(select(api_keys).order_by(api_keys.c.id.desc()))).all()
        return [
            KeyRow(
                r.id,
                r.name,
                r.prefix,
                r.scope,
                r.created_by,
                r.created_at,
                r.expires_at,
                r.revoked_at,
            )
            for r in rows
        ]

    async def usable(self) -> list[StoredKey]:
        """Every unrevoked key for the request path's cache (expiry is checked per request)."""
        query = select(
            api_keys.c.id, api_keys.c.key_hash, api_keys.c.scope, api_keys.c.expires_at
        ).where(api_keys.c.revoked_at.is_(None))
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            StoredKey(bytes.fromhex(r.key_hash), f"apikey-{r.id}", r.scope, r.expires_at)
            for r in rows
        ]
