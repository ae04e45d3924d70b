"""API keys made in the console: shown once, stored as SHA-256, revocable, rotatable,
optionally expiring.

SHA-256 (not argon2) is right here: a key is 256 random bits, so an attacker holding the
table cannot brute-force it whatever the hash speed, while slow hashing would cost every API
request. Passwords are different (people choose them) and get argon2id. The rows are kept by
store/api_keys.py; the keys, their hashes and what people type are made and checked here.
"""

from __future__ import annotations

import hashlib
import secrets

from aibot import i18n
from aibot.channels.api_keys import ADMIN_SCOPE, SCOPE_PREFIXES, StoredKey
from aibot.store import api_keys
from aibot.store.api_keys import KeyRow, NewKey
from aibot.store.database import Database

KEY_PREFIX = "aib_"
SCOPES = ("all", *SCOPE_PREFIXES, ADMIN_SCOPE)
_SHOWN = len(KEY_PREFIX) + 6


def _new_key(created_by: str) -> tuple[str, NewKey]:
    """A new key and what is stored of it."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, NewKey(hashlib.sha256(key.encode()).hexdigest(), key[:_SHOWN], created_by)


class ApiKeyStore:
    """`reads`: where `usable` reads (store/api_keys.py `KeyReads`); the engine when None."""

    def __init__(self, engine: Database, reads: api_keys.KeyReads | None = None) -> None:
        self.engine = engine
        self._reads = reads

    async def create(
        self, name: str, scope: str, created_by: str, now: float, expires_at: float | None
    ) -> tuple[str, KeyRow]:
        """Makes a key; the plaintext is returned here once and never stored."""
        # The console's words (and markupsafe) come with the first key made: gateway/build.py
        # imports this module at start for `usable`, which needs none of them.
        from aibot.admin.inputs import printable
        from aibot.admin.words import _

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
        key, new = _new_key(created_by)
        return key, await api_keys.add(self.engine, new, name, scope, now, expires_at)

    async def rotate(
        self, key_id: int, created_by: str, now: float
    ) -> tuple[str, KeyRow, KeyRow] | None:
        """Replaces an active key by a new one with the same name, scope and expiry, in one
        transaction (never both or neither usable); None when no active key has that id.
        Returns the new plaintext, the new row and the revoked old row."""
        key, new = _new_key(created_by)
        replaced = await api_keys.replace(self.engine, key_id, new, now)
        return None if replaced is None else (key, *replaced)

    async def revoke(self, key_id: int, now: float) -> KeyRow | None:
        if not await api_keys.revoke(self.engine, key_id, now):
            return None
        return next((k for k in await self.all() if k.id == key_id), None)

    async def all(self) -> list[KeyRow]:
        return await api_keys.every(self.engine)

    async def usable(self) -> list[StoredKey]:
        """Every unrevoked key for the request path's cache (expiry is checked per request)."""
        return [
            StoredKey(bytes.fromhex(k.key_hash), f"apikey-{k.id}", k.scope, k.expires_at)
            for k in await api_keys.unrevoked(self.engine, self._reads)
        ]
