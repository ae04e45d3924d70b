"""The JWT access tokens' rows: the signing keys every replica shares (`token_signing_keys`)
and the ids of revoked tokens (`token_revocations`). admin/access_tokens.py makes the keys,
decides when one is no longer needed and signs; here they are stored with the private half
sealed (store/crypto.py) and opened as they are read, so it is sealed nowhere else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select

from aibot.store.crypto import Cipher
from aibot.store.database import Database
from aibot.store.schema import token_revocations, token_signing_keys


@dataclass(frozen=True)
class StoredSigningKey:
    kid: str
    algorithm: str
    private_pem: str  # PKCS#8, opened
    public_jwk: dict[str, Any]
    created_at: float


async def signing_keys(
    engine: Database, cipher: Cipher, made_before: float | None = None
) -> list[StoredSigningKey]:
    """Every signing key, oldest first, after deleting (in the same transaction) those made
    before `made_before`."""
    async with engine.begin() as connection:
        if made_before is not None:
            await connection.execute(
                delete(token_signing_keys).where(token_signing_keys.c.created_at < made_before)
            )
        rows = await connection.execute(
            select(token_signing_keys).order_by(token_signing_keys.c.created_at)
        )
        return [
            StoredSigningKey(
                row.kid,
                row.algorithm,
                cipher.open(row.private_key),
                json.loads(row.public_jwk),
                row.created_at,
            )
            for row in rows
        ]


async def add_signing_key(engine: Database, cipher: Cipher, key: StoredSigningKey) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            insert(token_signing_keys).values(
                kid=key.kid,
                algorithm=key.algorithm,
                private_key=cipher.seal(key.private_pem),
                public_jwk=json.dumps(key.public_jwk),
                created_at=key.created_at,
            )
        )


async def revoke(engine: Database, jti: str, expires_at: float) -> None:
    """Records `jti` as revoked until `expires_at` (once: a second revocation changes nothing)."""
    async with engine.begin() as connection:
        known = await connection.execute(
            select(token_revocations.c.jti).where(token_revocations.c.jti == jti)
        )
        if known.first() is None:
            await connection.execute(
                insert(token_revocations).values(jti=jti, expires_at=expires_at)
            )


async def revoked(engine: Database, now: float) -> set[str]:
    """The revoked ids, after deleting (in the same transaction) those expired before `now`."""
    async with engine.begin() as connection:
        await connection.execute(
            delete(token_revocations).where(token_revocations.c.expires_at < now)
        )
        rows = await connection.execute(select(token_revocations.c.jti))
        return {row.jti for row in rows}
