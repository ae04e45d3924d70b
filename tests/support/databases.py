"""Databases for one test: a fresh database on the machine's PostgreSQL, a flushed database of
the test process's own Redis, a migrated store on either SQL back end.

Without the server the test is skipped; CI sets AIBOT_REQUIRE_POSTGRES=1 / AIBOT_REQUIRE_REDIS=1
so a missing server fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.store.engine import create_engine, create_writer_engine, migrate
from aibot.store.writer import GroupCommitWriter
from tests.support.private_servers import PROCESS_REDIS

PG_ADMIN_DSN = "postgres://postgres@127.0.0.1:5432/postgres"


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards."""
    import asyncpg

    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("AIBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unavailable: {exc}")
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}")
    name = f"aibot_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def redis_database() -> AsyncIterator[str]:
    """A database of this test process's own `redis-server` (each xdist worker has one), flushed
    before and after."""
    import redis.asyncio as redis

    try:
        url = await asyncio.to_thread(PROCESS_REDIS.url)
    except (OSError, RuntimeError) as exc:
        if os.environ.get("AIBOT_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis is required but redis-server cannot be started: {exc}")
        pytest.skip(f"redis-server cannot be started (apt-get install redis-server): {exc}")
    client = redis.from_url(url)
    await client.flushdb()
    try:
        yield url
    finally:
        await client.flushdb()
        await client.aclose()


@asynccontextmanager
async def migrated_store(backend: str, directory: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated store on `backend` ("sqlite": a file in `directory`, "postgresql": a fresh
    database), disposed afterwards."""
    async with contextlib.AsyncExitStack() as stack:
        url = (
            f"sqlite:///{directory / 'store.db'}"
            if backend == "sqlite"
            else await stack.enter_async_context(postgres_database())
        )
        engine = create_engine(url)
        await migrate(engine)
        yield engine
        await engine.dispose()


def writer_for(engine: AsyncEngine) -> GroupCommitWriter:
    """The writer as the gateway builds it: on SQLite it commits from its own thread."""
    url = engine.url.render_as_string(hide_password=False)
    return GroupCommitWriter(engine, sync_engine=create_writer_engine(url))
