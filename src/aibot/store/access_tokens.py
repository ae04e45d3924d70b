"""The JWT access tokens' rows: the signing keys every replica shares (`token_signing_keys`)
and the ids of revoked tokens (`token_revocations`). admin/access_tokens.py makes the keys,
decides when one is no longer needed and signs; here they are stored with the private half
sealed (store/crypto.py) and opened as they are read, so it is sealed nowhere else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aibot.store.crypto import Cipher
from aibot.store.database import Database
from aibot.store.text_sql import Step, transact


@dataclass(frozen=True)
class StoredSigningKey:
    kid: str
    algorithm: str
    private_pem: str  # PKCS#8, opened
    public_jwk: dict[str, Any]
    created_at: float


_SIGNING_KEYS_SQL = (
    "SELECT kid, algorithm, private_key, public_jwk, created_at FROM token_signing_keys"
    " ORDER BY created_at"
)


async def signing_keys(
    engine: Database, cipher: Cipher, made_before: float | None = None
) -> list[StoredSigningKey]:
    """Every signing key, oldest first, after deleting (in the same transaction) those made
    before `made_before`. As SQL text (store/text_sql.py): the gateway's start loads them."""
    steps: list[Step] = []
    if made_before is not None:
        steps.append(
            ("DELETE FROM token_signing_keys WHERE created_at < :before", {"before": made_before})
        )
    rows = await transact(engine, [*steps, (_SIGNING_KEYS_SQL, {})])
    return [
        StoredSigningKey(
            row["kid"],
            row["algorithm"],
            cipher.open(row["private_key"]),
            json.loads(row["public_jwk"]),
            row["created_at"],
        )
        for row in rows
    ]


async def add_signing_key(engine: Database, cipher: Cipher, key: StoredSigningKey) -> None:
    from sqlalchemy import insert

    from aibot.store.schema import token_signing_keys

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
    from sqlalchemy import insert, select

    from aibot.store.schema import token_revocations

    async with engine.begin() as connection:
        known = await connection.execute(
            select(token_revocations.c.jti).where(token_revocations.c.jti == jti)
        )
        if known.first() is None:
            await connection.execute(
                insert(token_revocations).values(jti=jti, expires_at=expires_at)
            )


async def revoked(engine: Database, now: float) -> set[str]:
    """The revoked ids, after deleting (in the same transaction) those expired before `now`.
    As SQL text (store/text_sql.py): the gateway's start loads them."""
    rows = await transact(
        engine,
        [
            ("DELETE FROM token_revocations WHERE expires_at < :now", {"now": now}),
            ("SELECT jti FROM token_revocations", {}),
        ],
    )
    return {row["jti"] for row in rows}
