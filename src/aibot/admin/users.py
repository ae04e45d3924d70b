"""Console accounts: created from the CLI, read on every login. The rows are kept by
store/admin_users.py; names are checked, passwords hashed and roles parsed here."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from aibot.admin.passwords import hash_password
from aibot.admin.roles import Role
from aibot.i18n import N_, Phrase
from aibot.store import admin_users
from aibot.store.admin_users import StoredUser
from aibot.store.crypto import PLAIN, Cipher
from aibot.store.database import Database

NAME_MAX = 64


@dataclass(frozen=True)
class AdminUser:
    id: int
    name: str
    role: Role
    password_hash: str
    totp_secret: str | None
    totp_last_step: int | None
    must_change_password: bool = False

    @classmethod
    def of(cls, stored: StoredUser) -> AdminUser:
        return cls(
            stored.id,
            stored.name,
            Role.parse(stored.role),
            stored.password_hash,
            stored.totp_secret,
            stored.totp_last_step,
            stored.must_change_password,
        )


class UserExists(ValueError):
    """Another account already has this name."""


class AdminUsers:
    """`cipher` seals TOTP keys at rest (store/crypto.py)."""

    def __init__(self, engine: Database, cipher: Cipher = PLAIN) -> None:
        self.engine = engine
        self._cipher = cipher

    async def create(
        self,
        name: str,
        role: Role,
        password: str,
        totp_secret: str | None = None,
        *,
        must_change: bool = False,
    ) -> AdminUser:
        name = name.strip()
        if not name or len(name) > NAME_MAX or not name.isprintable():
            raise ValueError(
                Phrase(N_("a user name is 1 to {n} printable characters"), {"n": NAME_MAX})
            )
        hashed = hash_password(password)
        try:
            user_id = await admin_users.add(
                self.engine,
                self._cipher,
                name=name,
                role=role.label,
                password_hash=hashed,
                totp_secret=totp_secret,
                must_change=must_change,
                now=time.time(),
            )
        except IntegrityError:
            raise UserExists(
                Phrase(N_("a user named '{name}' already exists"), {"name": name})
            ) from None
        return AdminUser(user_id, name, role, hashed, totp_secret, None, must_change)

    async def count(self) -> int:
        return await admin_users.count(self.engine)

    async def by_name(self, name: str) -> AdminUser | None:
        return self._user(await admin_users.by_name(self.engine, self._cipher, name))

    async def by_id(self, user_id: int) -> AdminUser | None:
        return self._user(await admin_users.by_id(self.engine, self._cipher, user_id))

    async def all(self) -> list[AdminUser]:
        return [AdminUser.of(u) for u in await admin_users.every(self.engine, self._cipher)]

    async def set_password(self, name: str, password: str) -> bool:
        """A new password (it also lifts a pending "change your password")."""
        return await admin_users.set_password(
            self.engine, name, hash_password(password), time.time()
        )

    async def set_totp(self, name: str, secret: str | None) -> bool:
        return await admin_users.set_totp(self.engine, self._cipher, name, secret, time.time())

    async def use_totp_step(self, user_id: int, step: int) -> bool:
        """Claims `step` for this user; False if it (or a later one) was already used."""
        return await admin_users.claim_totp_step(self.engine, user_id, step)

    @staticmethod
    def _user(stored: StoredUser | None) -> AdminUser | None:
        return AdminUser.of(stored) if stored else None
