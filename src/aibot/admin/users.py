"""Console accounts in `admin_users`: created from the CLI, read on every login."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select, update
from sqlalchemy.exc import IntegrityError

from aibot.admin.passwords import hash_password
from aibot.admin.roles import Role
from aibot.i18n import N_, Phrase
from aibot.store.crypto import PLAIN, Cipher
from aibot.store.database import Database
from aibot.store.schema import admin_users

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
        now = time.time()
        try:
            async with self.engine.begin() as connection:
                result = await connection.execute(
                    admin_users.insert().values(
                        name=name,
                        role=role.label,
                        password_hash=hashed,
                        totp_secret=self._cipher.seal_optional(totp_secret),
                        must_change_password=int(must_change),
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            raise UserExists(
                Phrase(N_("a user named '{name}' already exists"), {"name": name})
            ) from None
        user_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return AdminUser(user_id, name, role, hashed, totp_secret, None, must_change)

    async def count(self) -> int:
        async with self.engine.connect() as connection:
            return int(
                (
                    await connection.execute(select(func.count()).select_from(admin_users))
                ).scalar_one()
            )

    async def by_name(self, name: str) -> AdminUser | None:
        return await self._one(admin_users.c.name == name)

    async def by_id(self, user_id: int) -> AdminUser | None:
        return await self._one(admin_users.c.id == user_id)

    async def all(self) -> list[AdminUser]:
        async with self.engine.connect() as connection:
            rows = (
                await connection.execute(select(admin_users).order_by(admin_users.c.name))
            ).all()
        return [self._user(row) for row in rows]

    async def set_password(self, name: str, password: str) -> bool:
        """A new password (it also lifts a pending "change your password")."""
        return await self._update(
            name, password_hash=hash_password(password), must_change_password=0
        )

    async def set_totp(self, name: str, secret: str | None) -> bool:
        return await self._update(
            name, totp_secret=self._cipher.seal_optional(secret), totp_last_step=None
        )

    async def use_totp_step(self, user_id: int, step: int) -> bool:
        """Claims `step` for this user; False if it (or a later one) was already used."""
        column = admin_users.c.totp_last_step
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(admin_users)
                .where(admin_users.c.id == user_id)
                .where((column.is_(None)) | (column < step))
                .values(totp_last_step=step)
            )
        return bool(result.rowcount)

    async def _one(self, condition: ColumnElement[bool]) -> AdminUser | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(select(admin_users).where(condition))).first()
        return self._user(row) if row else None

    async def _update(self, name: str, **values: object) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                update(admin_users)
                .where(admin_users.c.name == name)
                .values(updated_at=time.time(), **values)
            )
        return bool(result.rowcount)

    def _user(self, row: Row[Any]) -> AdminUser:
        return AdminUser(
            row.id,
            row.name,
            Role.parse(row.role),
            row.password_hash,
            self._cipher.open_optional(row.totp_secret),
            row.totp_last_step,
            bool(row.must_change_password),
        )
