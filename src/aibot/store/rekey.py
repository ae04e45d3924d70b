"""Re-encrypting a store in place: the migration when encryption is turned on for a database
that has data, and the rotation to a new key (`ai-bot data-key rotate`). Same job, same code.

It walks each covered table in primary-key order, a batch per transaction, and re-seals every
value not sealed with the current key (plaintext included). Each value is written back with a
compare-and-set on its old contents, so a row the gateway changed meanwhile is never clobbered;
the walk's position is saved in the batch's own transaction (store/jobs.py), so a killed run
resumes exactly where it stopped. Rows appended while it runs are reached as the walk catches up
with the end of each table; once every table is done, the keys it replaced are retired.

Before each batch it checks that its key is still the store's current one: a gateway restarted
with a newer key meanwhile must not find values re-sealed with an older one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import Column, Table, bindparam, func, select, text, update

from aibot.i18n import N_
from aibot.store.crypto import DataKeyError, Keyring
from aibot.store.database import Database, DatabaseConnection
from aibot.store.jobs import JobLease
from aibot.store.key_check import PLAIN_ID
from aibot.store.schema import (
    admin_users,
    archive_objects,
    data_keys,
    inbox,
    outbox,
    scheduled_tasks,
    token_signing_keys,
    turns,
)

JOB = "data-key-rotate"
BATCH = 500

# The values encryption covers: (table, its key, its sealed columns).
SEALED: tuple[tuple[Table, Column[int], tuple[Column[str], ...]], ...] = (
    (turns, turns.c.id, (turns.c.content, turns.c.reasoning, turns.c.tool_data)),
    (inbox, inbox.c.id, (inbox.c.text,)),
    (outbox, outbox.c.id, (outbox.c.text,)),
    (scheduled_tasks, scheduled_tasks.c.id, (scheduled_tasks.c.text,)),
    (admin_users, admin_users.c.id, (admin_users.c.totp_secret,)),
    (token_signing_keys, token_signing_keys.c.id, (token_signing_keys.c.private_key,)),
)


@dataclass
class RekeyReport:
    resealed: dict[str, int] = field(default_factory=dict)  # table → values re-sealed
    retired: list[str] = field(default_factory=list)  # keys no value uses any more
    archived: dict[str, int] = field(default_factory=dict)  # kept: key → archived objects


Progress = Callable[[str, int, int], Awaitable[None] | None]  # table, last id, values so far


class Rekey:
    def __init__(
        self,
        engine: Database,
        keyring: Keyring,
        owner: str,
        *,
        batch: int = BATCH,
        pause: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._lease = JobLease(engine, JOB, owner, clock=clock)
        self._batch = batch
        self._pause = pause  # between batches: the gateway's own background run yields to traffic
        self._clock = clock

    async def run(self, on_progress: Progress | None = None) -> RekeyReport:
        """Raises JobBusy when another process runs it, DataKeyError when the store's current
        key is not this keyring's."""
        position = await self._lease.take()
        report = RekeyReport()
        try:
            retiring = await self._retiring()
            for table, key, columns in SEALED:
                count = await self._walk(table, key, columns, position, on_progress)
                report.resealed[str(table.name)] = count
            report.archived = await self._in_archives(retiring)
            report.retired = await self._retire([k for k in retiring if k not in report.archived])
        except BaseException:
            await asyncio.shield(self._lease.release())
            raise
        await self._lease.finish()
        if self._engine.dialect.name == "sqlite":
            await self._truncate_wal()
        return report

    async def _walk(
        self,
        table: Table,
        key: Column[int],
        columns: tuple[Column[str], ...],
        position: dict[str, int],
        on_progress: Progress | None,
    ) -> int:
        resealed = 0
        after = int(position.get(str(table.name), 0))
        query = select(key, *columns).where(key > bindparam("after")).order_by(key)
        writes = {
            column.name: update(table)
            .where(key == bindparam("row_id"), column == bindparam("old"))
            .values({column.name: bindparam("new")})
            for column in columns
        }
        while True:
            async with self._engine.begin() as connection:
                await self._still_current(connection)
                rows = (await connection.execute(query.limit(self._batch), {"after": after})).all()
                if not rows:
                    return resealed
                for column in columns:
                    changes = [
                        {"row_id": row[0], "old": old, "new": self._reseal(old)}
                        for row in rows
                        if (old := getattr(row, column.name)) is not None
                        and Keyring.key_of(old) != self._keyring.current_id
                    ]
                    if changes:
                        await connection.execute(writes[column.name], changes)
                        resealed += len(changes)
                after = rows[-1][0]
                position[str(table.name)] = after
                await self._lease.save(connection, position)
            if on_progress is not None:
                shown = on_progress(table.name, after, resealed)
                if shown is not None:
                    await shown
            if len(rows) < self._batch:
                return resealed
            await asyncio.sleep(self._pause)

    def _reseal(self, value: str) -> str:
        return self._keyring.seal(self._keyring.open_or_plain(value))

    async def _still_current(self, connection: DatabaseConnection) -> None:
        state = (
            await connection.execute(
                select(data_keys.c.state).where(data_keys.c.key_id == self._keyring.current_id)
            )
        ).scalar()
        if state != "current":
            raise DataKeyError.of(
                N_(
                    "data key {key} is no longer the store's current key (a gateway started "
                    "with another one): run again with that gateway's config"
                ),
                key=self._keyring.current_id,
            )

    async def _retiring(self) -> list[str]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(data_keys.c.key_id).where(data_keys.c.state == "retiring")
            )
            return sorted(rows.scalars().all())

    async def _in_archives(self, keys: list[str]) -> dict[str, int]:
        """Keys that archived objects (not restored) still hold values under: they stay
        `retiring`, and so required, until those objects are restored (and re-sealed here)."""
        counts: dict[str, int] = {}
        async with self._engine.connect() as connection:
            for key in keys:
                if key == PLAIN_ID:
                    continue  # plaintext needs no key to be read back
                found = (
                    await connection.execute(
                        select(func.count())
                        .select_from(archive_objects)
                        .where(
                            archive_objects.c.restored_at.is_(None),
                            archive_objects.c.key_ids.contains(key),
                        )
                    )
                ).scalar_one()
                if found:
                    counts[key] = int(found)
        return counts

    async def _retire(self, keys: list[str]) -> list[str]:
        if not keys:
            return []
        async with self._engine.begin() as connection:
            await self._still_current(connection)
            await connection.execute(
                update(data_keys)
                .where(data_keys.c.key_id.in_(keys), data_keys.c.state == "retiring")
                .values(state="retired", updated_at=self._clock())
            )
        return keys

    async def _truncate_wal(self) -> None:
        """The WAL still holds the pages as they were before: empty it."""
        async with self._engine.connect() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
