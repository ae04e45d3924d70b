"""`ai-bot restore-archive`: archived turns back into the database, exactly as they were, and
reading archived turns in place (the console's transcript and export).

Each object is read and checked against its stub (size and SHA-256) before anything is written;
its turns go back with their original ids, times and values, in one transaction with the stub
marked restored. Ids already present are skipped, so a restore interrupted anywhere can simply
be run again. The object stays in the bucket: archiving the same turns again later rewrites it
under the same name.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from aibot.store.archive.bucket import ArchiveError, Bucket, digest
from aibot.store.archive.objects import TURN_COLUMNS, DamagedObject, unpack
from aibot.store.database import Database
from aibot.store.schema import archive_objects, turns


@dataclass
class RestoreReport:
    objects: int = 0
    turns: int = 0


async def archived_stubs(
    engine: Database, session_key: str | None, *, since: float | None = None
) -> list[Any]:
    """The stubs of a session (every session if None) not yet restored, oldest first; with
    `since`, only objects holding turns from then on."""
    query = select(archive_objects).order_by(
        archive_objects.c.session_key, archive_objects.c.first_turn_id
    )
    query = query.where(archive_objects.c.restored_at.is_(None))
    if since is not None:
        query = query.where(archive_objects.c.last_at >= since)
    if session_key is not None:
        query = query.where(archive_objects.c.session_key == session_key)
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def read_object(bucket: Bucket, stub: Any) -> list[dict[str, Any]]:
    """The turns of one archived object, checked against its stub."""
    data = await bucket.get(stub.object_key)
    if len(data) != stub.size or digest(data) != stub.sha256:
        raise ArchiveError(
            f"{bucket.where}: {stub.object_key} is not the object that was archived "
            f"({len(data)} bytes, expected {stub.size}); it was changed in the bucket"
        )
    try:
        _header, rows = unpack(data)
    except DamagedObject as exc:
        raise ArchiveError(f"{bucket.where}: {stub.object_key}: {exc}") from None
    return rows


async def restore(
    engine: Database,
    bucket: Bucket,
    session_key: str | None,
    *,
    clock: Callable[[], float] = time.time,
) -> RestoreReport:
    report = RestoreReport()
    for stub in await archived_stubs(engine, session_key):
        rows = await read_object(bucket, stub)
        ids = [row["id"] for row in rows]
        async with engine.begin() as connection:
            present = set(
                (await connection.execute(select(turns.c.id).where(turns.c.id.in_(ids)))).scalars()
            )
            missing = [
                {c: row[c] for c in TURN_COLUMNS} for row in rows if row["id"] not in present
            ]
            if missing:
                await connection.execute(insert(turns), missing)
            await connection.execute(
                update(archive_objects)
                .where(archive_objects.c.id == stub.id, archive_objects.c.restored_at.is_(None))
                .values(restored_at=clock())
            )
        report.objects += 1
        report.turns += len(missing)
    return report
