"""Console accounts in `admin_users`: written by the CLI and the console's account page, read
on every login. admin/users.py checks names, hashes passwords and gives roles their meaning;
here the rows are written and read, with the TOTP key sealed at rest (store/crypto.py) and
opened as it is read, so no other room sees it sealed. A second account of one name is refused
by the table's unique name (IntegrityError)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Row, func, select, update

from aibot.store.crypto import Cipher
from aibot.store.database import Database
from aibot.store.schema import admin_users


@dataclass(frozen=True)
class StoredUser:
    """An account as stored: `role` is its label, `totp_secret` opened."""

    id: int
    name: str
    role: str
    password_hash: str
    totp_secret: str | None
    totp_last_step: int | None
    must_change_password: bool


async def add(
    engine: Database,
    cipher: Cipher,
    *,
    name: str,
    role: str,
    password_hash: str,
    totp_secret: str | None,
    must_change: bool,
    now: float,
) -> int:
    """Stores a new account and returns its id."""
    async with engine.begin() as connection:
        result = await connection.execute(
            admin_users.insert().values(
                name=name,
                role=role,
                password_hash=password_hash,
                totp_secret=cipher.seal_optional(totp_secret),
                must_change_password=int(must_change),
                created_at=now,
                updated_at=now,
            )
        )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


async def count(engine: Database) -> int:
    query = select(func.count()).select_from(admin_users)
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


async def by_name(engine: Database, cipher: Cipher, name: str) -> StoredUser | None:
    return await _one(engine, cipher, admin_users.c.name == name)


async def by_id(engine: Database, cipher: Cipher, user_id: int) -> StoredUser | None:
    return await _one(engine, cipher, admin_users.c.id == user_id)


async def every(engine: Database, cipher: Cipher) -> list[StoredUser]:
    """Every account, by name."""
    async with engine.connect() as connection:
        rows = (await connection.execute(select(admin_users).order_by(admin_users.c.name))).all()
    return [_user(row, cipher) for row in rows]


async def set_password(engine: Database, name: str, password_hash: str, now: float) -> bool:
    """A new password hash, which also lifts a pending "change your password"; False when no
    account has that name."""
    return await _update(engine, name, now, password_hash=password_hash, must_change_password=0)


async def set_totp(
    engine: Database, cipher: Cipher, name: str, secret: str | None, now: float
) -> bool:
    """A new TOTP key (or none), forgetting the last step used with the old one."""
    return await _update(
        engine, name, now, totp_secret=cipher.seal_optional(secret), totp_last_step=None
    )


async def claim_totp_step(engine: Database, user_id: int, step: int) -> bool:
    """Records `step` as the account's last used one, in one statement so two logins cannot
    both claim it; False if it (or a later one) was already used."""
    column = admin_users.c.totp_last_step
    async with engine.begin() as connection:
        result = await connection.execute(
            update(admin_users)
            .where(admin_users.c.id == user_id)
            .where((column.is_(None)) | (column < step))
            .values(totp_last_step=step)
        )
    return bool(result.rowcount)


async def _one(
    engine: Database, cipher: Cipher, condition: ColumnElement[bool]
) -> StoredUser | None:
    async with engine.connect() as connection:
        row = (await connection.execute(select(admin_users).where(condition))).first()
    return _user(row, cipher) if row else None


async def _update(engine: Database, name: str, now: float, **values: object) -> bool:
    async with engine.begin() as connection:
        result = await connection.execute(
            update(admin_users).where(admin_users.c.name == name).values(updated_at=now, **values)
        )
    return bool(result.rowcount)


def _user(row: Row[Any], cipher: Cipher) -> StoredUser:
    return StoredUser(
        row.id,
        row.name,
        row.role,
        row.password_hash,
        cipher.open_optional(row.totp_secret),
        row.totp_last_step,
        bool(row.must_change_password),
    )
