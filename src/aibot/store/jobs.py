"""Long store jobs that resume where they stopped and run once across replicas and the CLI.

A job's row in `store_jobs` holds its progress and a lease: whoever holds an unexpired lease
runs it; a killed runner's lease lapses (at once, when it ran on this host and its process is
gone) and the next one resumes from the saved progress. The
progress is saved in the same transaction as the batch it describes, so a crash can never
record work that was not committed (or lose work that was).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from typing import Any

import orjson

from aibot.store.database import Database, DatabaseConnection
from aibot.store.dialects import Statements


def runner_name() -> str:
    """This process as a job owner: host and pid."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}"


def _gone(owner: str | None) -> bool:
    """Whether `owner` ran on this host in a process that no longer exists."""
    host, _, pid = (owner or "").rpartition("-")
    if host != socket.gethostname()[:40] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobBusy(Exception):
    """Another process holds the job's lease; `owner` says who."""

    def __init__(self, owner: str) -> None:
        super().__init__(f"already running in {owner}")
        self.owner = owner


class JobLease:
    def __init__(
        self,
        engine: Database,
        name: str,
        owner: str,
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self.name = name
        self.owner = owner[:128]
        self._ttl = ttl
        self._clock = clock

    async def take(self) -> dict[str, Any]:
        """Takes the lease and returns the saved progress; raises JobBusy if it is held."""
        from sqlalchemy import or_, select, update

        from aibot.store.schema import store_jobs

        now = self._clock()
        add = Statements(self._engine.dialect.name).insert_unless_present(
            store_jobs, [store_jobs.c.name], store_jobs.c.name
        )
        row = {"name": self.name, "owner": None, "lease_until": 0.0, "progress": "{}"}
        async with self._engine.begin() as connection:
            await connection.execute(add, {**row, "updated_at": now})
            holder = (
                await connection.execute(
                    select(store_jobs.c.owner).where(store_jobs.c.name == self.name)
                )
            ).scalar()
            free = [store_jobs.c.owner.is_(None), store_jobs.c.owner == self.owner]
            if _gone(holder):
                free.append(store_jobs.c.owner == holder)
            taken = await connection.execute(
                update(store_jobs)
                .where(
                    store_jobs.c.name == self.name,
                    or_(*free, store_jobs.c.lease_until < now),
                )
                .values(owner=self.owner, lease_until=now + self._ttl, updated_at=now)
            )
            current = (
                await connection.execute(
                    select(store_jobs.c.owner, store_jobs.c.progress).where(
                        store_jobs.c.name == self.name
                    )
                )
            ).one()
        if not taken.rowcount:
            raise JobBusy(current.owner or "another process")
        progress: dict[str, Any] = orjson.loads(current.progress)
        return progress

    async def save(self, connection: DatabaseConnection, progress: dict[str, Any]) -> None:
        """Records progress (and renews the lease) inside the caller's transaction; raises
        JobBusy, rolling the batch back, if the lease was lost to another runner."""
        from sqlalchemy import update

        from aibot.store.schema import store_jobs

        now = self._clock()
        saved = await connection.execute(
            update(store_jobs)
            .where(store_jobs.c.name == self.name, store_jobs.c.owner == self.owner)
            .values(
                progress=orjson.dumps(progress).decode(),
                lease_until=now + self._ttl,
                updated_at=now,
            )
        )
        if not saved.rowcount:
            raise JobBusy("another process (this one's lease lapsed)")

    async def finish(self) -> None:
        """Releases the lease with the progress reset, so the next run starts afresh."""
        from sqlalchemy import update

        from aibot.store.schema import store_jobs

        async with self._engine.begin() as connection:
            await connection.execute(
                update(store_jobs)
                .where(store_jobs.c.name == self.name, store_jobs.c.owner == self.owner)
                .values(owner=None, lease_until=0.0, progress="{}", updated_at=self._clock())
            )

    async def release(self) -> None:
        """Lets another runner take over at once, keeping the progress."""
        from sqlalchemy import update

        from aibot.store.schema import store_jobs

        async with self._engine.begin() as connection:
            await connection.execute(
                update(store_jobs)
                .where(store_jobs.c.name == self.name, store_jobs.c.owner == self.owner)
                .values(owner=None, lease_until=0.0, updated_at=self._clock())
            )
