"""Failed console logins in `login_failures`: one row per key (`user:<name>`, `ip:<address>`)
per attempt, shared by every replica and kept across restarts. admin/lockout.py decides what
the rows mean (the window, the limit, what a success clears); here they are written, read and
deleted. A key longer than its column is cut to it, the same way on every call."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select

from aibot.store.database import Database
from aibot.store.schema import login_failures

KEY_MAX = 200
Failure = tuple[int, str, float]  # id, key, at


def _keys(keys: Iterable[str]) -> list[str]:
    return [key[:KEY_MAX] for key in keys]


async def record(engine: Database, keys: Iterable[str], at: float, expired: float) -> list[int]:
    """Writes and commits a failure at `at` for each key, in order, and deletes every row at or
    before `expired` in the same transaction; the new rows' ids."""
    ids: list[int] = []
    async with engine.begin() as connection:
        await connection.execute(delete(login_failures).where(login_failures.c.at <= expired))
        for key in _keys(keys):
            result = await connection.execute(login_failures.insert().values(key=key, at=at))
            row_key = result.inserted_primary_key
            assert row_key is not None
            ids.append(int(row_key[0]))
    return ids


async def since(engine: Database, keys: Iterable[str], after: float) -> list[Failure]:
    """Every failure of `keys` later than `after`."""
    query = (
        select(login_failures.c.id, login_failures.c.key, login_failures.c.at)
        .where(login_failures.c.key.in_(_keys(keys)))
        .where(login_failures.c.at > after)
    )
    async with engine.connect() as connection:
        return [(row.id, row.key, row.at) for row in await connection.execute(query)]


async def forget(engine: Database, ids: Iterable[int], keys: Iterable[str] = ()) -> None:
    """Deletes the rows of `ids` and every row of `keys`."""
    condition = login_failures.c.id.in_(list(ids)) | login_failures.c.key.in_(_keys(keys))
    async with engine.begin() as connection:
        await connection.execute(delete(login_failures).where(condition))
