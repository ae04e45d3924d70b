"""`ai-bot archive`: the turns of conversations idle for `after_days` move to the bucket.

Per object the order is fixed, and it is what makes a crash at any instant harmless:
1. the turns are read and packed (store/archive/objects.py: name and bytes depend only on them);
2. the object is written and read back (size and SHA-256 must match);
3. one transaction records the stub and deletes exactly those turns.
Killed before 3, the turns are still in the database and the next run writes the identical
object again; killed after, they are in the bucket and the stub says where. Nothing is lost and
nothing is in both places. A bucket that refuses writes or goes away stops the run at step 2
with the database untouched for that object.

A conversation restored less than `after_days` ago is left alone, or it would go straight back.
Each run ends by writing a manifest (every stub not yet in one) so the bucket describes itself.
Runs take the `archive` job lease (store/jobs.py): cron and an operator cannot overlap.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import and_, delete, exists, select, update

from aibot.store.archive.bucket import Bucket, digest
from aibot.store.archive.objects import Packed, day_of, manifest_key, pack
from aibot.store.crypto import Keyring
from aibot.store.database import Database
from aibot.store.dialects import Statements
from aibot.store.jobs import JobLease, runner_name
from aibot.store.schema import archive_objects, conversations, turns

DAY = 86400.0
JOB = "archive"
SESSIONS_PER_PAGE = 200
TURNS_PER_OBJECT = 5000  # a busier day is split in several objects
STUB_CHANGES = (
    "session_key",
    "day",
    "first_turn_id",
    "last_turn_id",
    "turns",
    "first_at",
    "last_at",
    "size",
    "sha256",
    "key_ids",
    "archived_at",
    "restored_at",
    "manifest",
)


@dataclass
class ArchiveReport:
    conversations: int = 0
    turns: int = 0
    objects: int = 0
    manifest: str | None = None
    keys: list[str] = field(default_factory=list)


class Archiver:
    def __init__(
        self,
        engine: Database,
        bucket: Bucket,
        *,
        clock: Callable[[], float] = time.time,
        on_object: Callable[[Packed], None] | None = None,
    ) -> None:
        self._engine = engine
        self._bucket = bucket
        self._prefix = bucket.config.prefix
        self._clock = clock
        self._on_object = on_object
        self._stub = Statements(engine.dialect.name).upsert(
            archive_objects, [archive_objects.c.object_key], STUB_CHANGES
        )

    async def run(self, idle_days: float) -> ArchiveReport:
        """Raises JobBusy if another run holds the lease, ArchiveError if the bucket fails."""
        lease = JobLease(self._engine, JOB, runner_name(), ttl=120.0, clock=self._clock)
        await lease.take()
        report = ArchiveReport()
        try:
            cutoff = self._clock() - idle_days * DAY
            after = ""
            while True:
                sessions = await self._idle_sessions(cutoff, after)
                for session_key in sessions:
                    moved = await self._archive_session(session_key, cutoff, report)
                    report.conversations += bool(moved)
                    async with self._engine.begin() as connection:
                        await lease.save(connection, {"session": session_key})
                if len(sessions) < SESSIONS_PER_PAGE:
                    break
                after = sessions[-1]
            report.manifest = await self._write_manifest()
        finally:
            await lease.finish()
        return report

    async def _idle_sessions(self, cutoff: float, after: str) -> list[str]:
        recently_restored = exists().where(
            and_(
                archive_objects.c.session_key == conversations.c.session_key,
                archive_objects.c.restored_at >= cutoff,
            )
        )
        has_old_turns = exists().where(
            and_(turns.c.session_key == conversations.c.session_key, turns.c.created_at < cutoff)
        )
        query = (
            select(conversations.c.session_key)
            .where(
                conversations.c.updated_at < cutoff,
                conversations.c.session_key > after,
                has_old_turns,
                ~recently_restored,
            )
            .order_by(conversations.c.session_key)
            .limit(SESSIONS_PER_PAGE)
        )
        async with self._engine.connect() as connection:
            return list((await connection.execute(query)).scalars().all())

    async def _archive_session(self, session_key: str, cutoff: float, report: ArchiveReport) -> int:
        moved = 0
        while True:
            rows = await self._old_turns(session_key, cutoff)
            if not rows:
                return moved
            first_day = day_of(rows[0]["created_at"])
            same_day = [r for r in rows if day_of(r["created_at"]) == first_day]
            packed = pack(self._prefix, session_key, same_day)
            await self._bucket.put_verified(packed.key, packed.data)
            keys = await self._commit(session_key, packed)
            report.objects += 1
            report.turns += len(same_day)
            report.keys = sorted(set(report.keys) | keys)
            moved += len(same_day)
            if self._on_object is not None:
                self._on_object(packed)

    async def _old_turns(self, session_key: str, cutoff: float) -> list[dict[str, Any]]:
        query = (
            select(turns)
            .where(turns.c.session_key == session_key, turns.c.created_at < cutoff)
            .order_by(turns.c.id)
            .limit(TURNS_PER_OBJECT)
        )
        async with self._engine.connect() as connection:
            return [dict(row._mapping) for row in (await connection.execute(query)).all()]

    async def _commit(self, session_key: str, packed: Packed) -> set[str]:
        rows = packed.rows
        keys = {
            Keyring.key_of(value) or "plain"
            for row in rows
            for value in (row["content"], row["reasoning"])
            if value is not None
        }
        stub = {
            "object_key": packed.key,
            "session_key": session_key,
            "day": packed.day,
            "first_turn_id": rows[0]["id"],
            "last_turn_id": rows[-1]["id"],
            "turns": len(rows),
            "first_at": rows[0]["created_at"],
            "last_at": rows[-1]["created_at"],
            "size": len(packed.data),
            "sha256": digest(packed.data),
            "key_ids": ",".join(sorted(keys)),
            "archived_at": self._clock(),
            "restored_at": None,
            "manifest": None,
        }
        ids = [row["id"] for row in rows]
        async with self._engine.begin() as connection:
            await connection.execute(self._stub, stub)
            for start in range(0, len(ids), 500):
                await connection.execute(
                    delete(turns).where(turns.c.id.in_(ids[start : start + 500]))
                )
        return keys

    async def _write_manifest(self) -> str | None:
        """Lists every stub no manifest lists yet; a crash before the stubs are marked only
        means they are listed again by the next run's manifest."""
        query = select(archive_objects).where(archive_objects.c.manifest.is_(None))
        async with self._engine.connect() as connection:
            stubs = [dict(r._mapping) for r in (await connection.execute(query)).all()]
        if not stubs:
            return None
        key = manifest_key(self._prefix, self._clock(), runner_name())
        listed = [{str(k): v for k, v in s.items() if k not in ("id", "manifest")} for s in stubs]
        body = orjson.dumps({"format": "ai-bot-archive-manifest/1", "objects": listed})
        await self._bucket.put_verified(key, body)
        async with self._engine.begin() as connection:
            await connection.execute(
                update(archive_objects)
                .where(archive_objects.c.id.in_([s["id"] for s in stubs]))
                .values(manifest=key)
            )
        return key
