"""Creating the database engine from `storage.url` and bringing the schema up to date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Column, MetaData, String, Table, event, inspect, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from aibot.ops.file_modes import private_database
from aibot.store.database import Database, SqliteEngine
from aibot.store.migrations import MIGRATIONS_DIR, head_revision
from aibot.store.schema import metadata
from aibot.store.sqlite_file import apply_pragmas

log = structlog.get_logger("aibot.store")
# Any constant works; it only has to be the same in every replica that migrates at once.
_PG_MIGRATION_LOCK = 0x41494254


# SQLAlchemy's default QueuePool for a SQLite file: 5 connections and 10 more under load.
SQLITE_POOL = 5
SQLITE_OVERFLOW = 10


def async_url(url: str) -> str:
    """Map the user-facing URL to the async driver: postgresql → asyncpg, mysql/mariadb →
    asyncmy (with the utf8mb4 connection character set unless one is given)."""
    parsed = make_url(url)
    driver = {
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
        "mysql": "mysql+asyncmy",
        "mariadb": "mysql+asyncmy",
    }.get(parsed.drivername, parsed.drivername)
    parsed = parsed.set(drivername=driver)
    if parsed.get_backend_name() == "mysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run during the group commit; NORMAL sync is durable across app crashes."""
    apply_pragmas(dbapi_connection, secure_delete=False)


def _sqlite_pragmas_secure(dbapi_connection: Any, _record: Any) -> None:
    """With encryption at rest, deleted and overwritten values are zeroed in the file too:
    the plaintext a migration replaced must not linger in free pages."""
    apply_pragmas(dbapi_connection, secure_delete=True)


def create_engine(url: str, *, secure_delete: bool = False, blocking: bool = False) -> Database:
    """SQLite on core's synchronous engine behind a thread per call (store/database.py; with
    `blocking`, on the caller's thread: see `SqliteEngine`); PostgreSQL and MySQL on
    SQLAlchemy's asyncio extension, imported only for them."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite(url, secure_delete=secure_delete, blocking=blocking)
    from sqlalchemy.ext.asyncio import create_async_engine

    from aibot.store.liveness import ping_when_idle

    options: dict[str, Any] = {}
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        import aibot.store.mysql  # noqa: F401 - its DDL for MySQL, before any schema is built

        # READ COMMITTED as on PostgreSQL (InnoDB's REPEATABLE READ adds gap locks that make
        # concurrent inserts deadlock); connections recycled before the server's idle timeout.
        options = {"isolation_level": "READ COMMITTED", "pool_recycle": 1800}
    engine = create_async_engine(async_url(url), pool_size=10, max_overflow=10, **options)
    ping_when_idle(engine)  # instead of pool_pre_ping's round trip before every checkout
    return engine


def _create_sqlite(url: str, *, secure_delete: bool, blocking: bool) -> SqliteEngine:
    """The standard library's sqlite3 whatever driver the URL names (store/database.py)."""
    parsed = make_url(url).set(drivername="sqlite")
    database = parsed.database or ""
    if database and database != ":memory:":
        private_database(Path(database).expanduser())
        sync = create_sync_engine(parsed, pool_size=SQLITE_POOL, max_overflow=SQLITE_OVERFLOW)
        connections: int | None = SQLITE_POOL + SQLITE_OVERFLOW
    else:  # one connection shared, as aiosqlite's StaticPool did: the database lives in it
        sync = create_sync_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        connections = None
    event.listen(sync, "connect", _sqlite_pragmas_secure if secure_delete else _sqlite_pragmas)
    return SqliteEngine(sync, connections, blocking=blocking)


def create_writer_engine(url: str, *, secure_delete: bool = False) -> Engine | None:
    """For SQLite, a plain sqlite3 engine the group-commit writer drives from its own thread
    (see store/writer.py); other databases write through the async engine."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    engine = create_sync_engine(parsed.set(drivername="sqlite"), pool_size=1, max_overflow=0)
    event.listen(engine, "connect", _sqlite_pragmas_secure if secure_delete else _sqlite_pragmas)
    return engine


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def _current_revision(engine: Database) -> str | None:
    try:
        async with engine.connect() as connection:
            return (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
    except DBAPIError:
        return None  # a new database: no version table yet


def _create_fresh(connection: Connection) -> bool:
    """On an empty database, create the current schema directly and stamp it (the Alembic
    "create_all, then stamp" recipe), which spares loading Alembic on a first start."""
    if inspect(connection).get_table_names():
        return False
    # No table exists in this transaction: asking about each one first (`checkfirst`) is a
    # query per table and per index.
    metadata.create_all(connection, checkfirst=False)
    version = Table(
        "alembic_version", MetaData(), Column("version_num", String(32), primary_key=True)
    )
    version.create(connection, checkfirst=False)
    connection.execute(version.insert().values(version_num=head_revision()))
    return True


async def ping(engine: Database) -> None:
    """One `SELECT 1`: the server answers and takes the URL's credentials, before anything
    else is asked of it (the `ai-bot run` preflight and doctor say which of those failed)."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def migrate(engine: Database) -> None:
    """Brings the schema to the newest revision; Alembic is only loaded when there is work."""
    if await _current_revision(engine) == head_revision():
        return
    async with engine.begin() as connection:
        # Several replicas may start together: one migrates, the others wait and find it.
        if engine.dialect.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
            )
        elif engine.dialect.name == "mysql":
            from aibot.store import mysql

            await mysql.lock_migrations(connection)
        try:
            if not await connection.run_sync(_create_fresh):
                await connection.run_sync(_upgrade)
        finally:
            if engine.dialect.name == "mysql":
                from aibot.store import mysql

                await mysql.unlock_migrations(connection)
    log.info("database schema migrated", revision=head_revision(), backend=engine.dialect.name)
