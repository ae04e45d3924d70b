"""Databases for one test: a fresh database on the machine's PostgreSQL or MariaDB, a flushed
database of the test process's own Redis, a migrated store on any SQL back end.

Without the server the test is skipped; CI sets AIBOT_REQUIRE_POSTGRES=1 / AIBOT_REQUIRE_REDIS=1 /
AIBOT_REQUIRE_MARIADB=1 so a missing server fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from aibot.store.database import Database
from aibot.store.engine import create_engine, migrate, writer_engine
from aibot.store.writer import GroupCommitWriter
from tests.support.private_servers import PROCESS_REDIS

if TYPE_CHECKING:
    import redis.asyncio as redis_asyncio
    from sqlalchemy.ext.asyncio import AsyncEngine

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


MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


@asynccontextmanager
async def mariadb_database(charset: str = "latin1") -> AsyncIterator[str]:
    """A `mysql://` URL of a new database on the local MariaDB (127.0.0.1:3306, root), dropped
    afterwards. `charset` is the database's default (latin1: as unfriendly as an old cloud
    instance; the store must create its tables utf8mb4 whatever it is)."""
    import asyncmy

    try:
        admin = await asyncmy.connect(**MARIADB, connect_timeout=3, autocommit=True)
    except (OSError, asyncmy.errors.Error) as exc:
        if os.environ.get("AIBOT_REQUIRE_MARIADB") == "1":
            pytest.fail(f"MariaDB is required but unavailable: {exc}")
        pytest.skip(f"MariaDB not reachable on 127.0.0.1:3306: {exc}")
    name = f"aibot_test_{uuid.uuid4().hex[:12]}"
    try:
        async with admin.cursor() as cursor:
            await cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET {charset}")
        yield f"mysql://root@127.0.0.1:3306/{name}"
    finally:
        async with admin.cursor() as cursor:
            await cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        await admin.ensure_closed()


SERVER_DATABASES = {"postgresql": postgres_database, "mariadb": mariadb_database}


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
async def redis_client() -> AsyncIterator[redis_asyncio.Redis]:
    """A client of a flushed `redis_database`, closed afterwards."""
    import redis.asyncio as redis

    async with redis_database() as url:
        client = redis.from_url(url)
        try:
            yield client
        finally:
            await client.aclose()


@asynccontextmanager
async def migrated_store(backend: str, directory: Path) -> AsyncIterator[Database]:
    """A migrated store on `backend` ("sqlite": a file in `directory`, "postgresql" or
    "mariadb": a fresh database), disposed afterwards."""
    async with contextlib.AsyncExitStack() as stack:
        url = (
            f"sqlite:///{directory / 'store.db'}"
            if backend == "sqlite"
            else await stack.enter_async_context(SERVER_DATABASES[backend]())
        )
        engine = create_engine(url)
        await migrate(engine)
        yield engine
        await engine.dispose()


def url_of(engine: Database) -> str:
    """The URL a store was made from, as the config gives it (the user-facing driver name)."""
    return engine.url.render_as_string(hide_password=False).replace("+asyncpg", "")


def writer_for(engine: Database) -> GroupCommitWriter:
    """The writer as the gateway builds it: on SQLite it commits from its own thread."""
    url = engine.url.render_as_string(hide_password=False)
    return GroupCommitWriter(engine, make_sync_engine=writer_engine(url))


def server_engine(engine: Database) -> AsyncEngine:
    """A PostgreSQL or MySQL store's engine, SQLAlchemy's asyncio one (SQLite has its own)."""
    from sqlalchemy.ext.asyncio import AsyncEngine

    assert isinstance(engine, AsyncEngine), engine
    return engine
