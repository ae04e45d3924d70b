"""Which data keys a store's values are sealed with, so a wrong or missing key stops the start.

`data_keys` has a row per key that ever sealed a value here: `current` (what new values are
sealed with), `retiring` (values may still use it: it must stay configured) or `retired` (no
value uses it any more). The pseudo key `plain` stands for rows written before encryption was
turned on; it retires once the in-place migration has sealed them all (store/rekey.py).

Each key's row holds a constant sealed with it, so a key is proven before any message is read:
the gateway never shows garbage, and never seals new values under a key the operator mistyped.
"""

from __future__ import annotations

from aibot.store import sqlite_file
from aibot.store.crypto import Keyring
from aibot.store.database import Database, DatabaseConnection, file_of
from aibot.store.dialects import Statements
from aibot.store.key_check import CHECK, PLAIN_ID, check_keys


async def keys_in_use(engine: Database) -> dict[str, str | None]:
    """Key id → its check value, for the keys not yet retired; empty for a store that never
    had encryption on (or predates it: no table yet). A SQLite file is read with plain
    sqlite3 (a gateway on one starts without SQLAlchemy: store/database.py)."""
    file = file_of(engine)
    if file is not None:
        db = sqlite_file.connect_file(file.path, secure_delete=file.secure_delete)
        try:
            return sqlite_file.keys_in_use(db)
        finally:
            db.close()
    from sqlalchemy import select
    from sqlalchemy.exc import DBAPIError

    from aibot.store.schema import data_keys

    query = select(data_keys.c.key_id, data_keys.c.check_value).where(
        data_keys.c.state != "retired"
    )
    try:
        async with engine.connect() as connection:
            return {r.key_id: r.check_value for r in (await connection.execute(query)).all()}
    except DBAPIError:
        return {}


async def key_states(engine: Database) -> list[tuple[str, str]]:
    """Every key that ever sealed a value here, oldest first, with its state (for
    `ai-bot data-key status`)."""
    from sqlalchemy import select

    from aibot.store.schema import data_keys

    query = select(data_keys.c.key_id, data_keys.c.state).order_by(data_keys.c.created_at)
    async with engine.connect() as connection:
        return [(r.key_id, r.state) for r in await connection.execute(query)]


async def current_key(engine: Database) -> str | None:
    """The key new values are sealed with; None until a gateway or a rotation registers one."""
    from sqlalchemy import select

    from aibot.store.schema import data_keys

    query = select(data_keys.c.key_id).where(data_keys.c.state == "current")
    async with engine.connect() as connection:
        return (await connection.execute(query)).scalar()


async def verify(engine: Database, keyring: Keyring | None) -> dict[str, str | None]:
    """Raises DataKeyError, in words the operator can act on, unless this config can read
    everything the store holds; returns the keys in use."""
    in_use = await keys_in_use(engine)
    check_keys(in_use, keyring)
    return in_use


async def register(engine: Database, keyring: Keyring, now: float) -> list[str]:
    """Makes the configured key the current one (the others in use become `retiring`); on the
    first start with encryption on, existing rows are marked as plaintext still to be sealed.
    Returns the keys (`plain` included) whose values still need re-encrypting."""
    from sqlalchemy import select, update

    from aibot.store.schema import data_keys

    statements = Statements(engine.dialect.name)
    add = statements.insert_unless_present(data_keys, [data_keys.c.key_id], data_keys.c.key_id)
    async with engine.begin() as connection:
        first = (await connection.execute(select(data_keys.c.key_id).limit(1))).first() is None
        if first and await _has_rows(connection):
            await connection.execute(add, _row(PLAIN_ID, "retiring", None, now))
        await connection.execute(add, _row(keyring.current_id, "current", keyring.seal(CHECK), now))
        await connection.execute(
            update(data_keys)
            .where(data_keys.c.key_id == keyring.current_id)
            .values(state="current", updated_at=now)
        )
        await connection.execute(
            update(data_keys)
            .where(data_keys.c.key_id != keyring.current_id, data_keys.c.state == "current")
            .values(state="retiring", updated_at=now)
        )
        rows = await connection.execute(
            select(data_keys.c.key_id).where(data_keys.c.state == "retiring")
        )
        return sorted(rows.scalars().all())


def _row(key_id: str, state: str, check: str | None, now: float) -> dict[str, object]:
    return {
        "key_id": key_id,
        "state": state,
        "check_value": check,
        "created_at": now,
        "updated_at": now,
    }


async def _has_rows(connection: DatabaseConnection) -> bool:
    """Whether any value that encryption covers was written before it was turned on."""
    from sqlalchemy import exists, select

    from aibot.store.schema import admin_users, inbox, outbox, token_signing_keys, turns

    for table, condition in (
        (turns, None),
        (inbox, None),
        (outbox, None),
        (admin_users, admin_users.c.totp_secret.is_not(None)),
        (token_signing_keys, None),
    ):
        query = exists().select_from(table)
        if condition is not None:
            query = query.where(condition)
        if (await connection.execute(select(query))).scalar():
            return True
    return False
