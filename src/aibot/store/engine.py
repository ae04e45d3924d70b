"""Creating the database engine from `storage.url` and bringing the schema up to date.

Nothing here imports SQLAlchemy at module level: a gateway on a SQLite file opens, checks and
reads its store with plain sqlite3 until it serves (store/sqlite_file.py; issue 20, cold
start), and its engine makes SQLAlchemy's at first use (store/database.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from aibot.ops.file_modes import private_database
from aibot.store.database import Database, SqliteEngine, SqliteFile, file_of
from aibot.store.migrations import MIGRATIONS_DIR, head_revision
from aibot.store.sqlite_file import apply_pragmas, ensure_current, file_path, open_file

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = structlog.get_logger("aibot.store")
# Any constant works; it only has to be the same in every replica that migrates at once.
_PG_MIGRATION_LOCK = 0x41494254


# SQLAlchemy's default QueuePool for a SQLite file: 5 connections and 10 more under load.
SQLITE_POOL = 5
SQLITE_OVERFLOW = 10


def async_url(url: str) -> str:
    """Map the user-facing URL to the async driver: postgresql → asyncpg, mysql/mariadb →
    asyncmy (with the utf8mb4 connection character set unless one is given)."""
    from sqlalchemy.engine import make_url

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
    `blocking`, on the caller's thread: see `SqliteEngine`), made at its first statement for
    a file; PostgreSQL and MySQL on SQLAlchemy's asyncio extension, imported only for them."""
    path = file_path(url)
    if path is not None:
        private_database(path)
        return SqliteEngine(
            lambda: _sqlite_file_engine(path, secure_delete, pool_size=SQLITE_POOL),
            SQLITE_POOL + SQLITE_OVERFLOW,
            blocking=blocking,
            file=SqliteFile(path, secure_delete),
        )
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_elsewhere(url, secure_delete=secure_delete, blocking=blocking)
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


def _sqlite_file_engine(path: Path, secure_delete: bool, *, pool_size: int) -> Engine:
    """Core's pysqlite engine on the file (the standard library's sqlite3, whatever driver the
    URL named), with the PRAGMAs on every connection it opens."""
    from sqlalchemy import create_engine as create_sync_engine
    from sqlalchemy import event
    from sqlalchemy.engine import URL

    overflow = SQLITE_OVERFLOW if pool_size == SQLITE_POOL else 0
    sync = create_sync_engine(
        URL.create("sqlite", database=str(path)), pool_size=pool_size, max_overflow=overflow
    )
    event.listen(sync, "connect", _sqlite_pragmas_secure if secure_delete else _sqlite_pragmas)
    return sync


def _sqlite_elsewhere(url: str, *, secure_delete: bool, blocking: bool) -> SqliteEngine:
    """An in-memory database, or a URL with options the plain path does not read: the engine
    made at once, as before (one connection shared for memory, as aiosqlite's StaticPool did:
    the database lives in it)."""
    from sqlalchemy import create_engine as create_sync_engine
    from sqlalchemy import event
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import StaticPool

    parsed = make_url(url).set(drivername="sqlite")
    database = parsed.database or ""
    if database and database != ":memory:":
        private_database(Path(database).expanduser())
        sync = create_sync_engine(parsed, pool_size=SQLITE_POOL, max_overflow=SQLITE_OVERFLOW)
        connections: int | None = SQLITE_POOL + SQLITE_OVERFLOW
    else:
        sync = create_sync_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        connections = None
    event.listen(sync, "connect", _sqlite_pragmas_secure if secure_delete else _sqlite_pragmas)
    return SqliteEngine(lambda: sync, connections, blocking=blocking)


def writer_engine(url: str, *, secure_delete: bool = False) -> Callable[[], Engine] | None:
    """For a SQLite file, what makes the plain sqlite3 engine the group-commit writer drives
    from its own thread (see store/writer.py), at its first batch; other databases write
    through the async engine."""
    path = file_path(url)
    if path is None:
        return None
    return lambda: _sqlite_file_engine(path, secure_delete, pool_size=1)


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def _current_revision(engine: Database) -> str | None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

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
    from sqlalchemy import Column, MetaData, String, Table, inspect

    from aibot.store.schema import metadata

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
    file = file_of(engine)
    if file is not None:
        open_file(file.path, secure_delete=file.secure_delete).close()
        return
    from sqlalchemy import text

    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


def _file_is_current(file: SqliteFile) -> bool:
    """A SQLite file checked, and created when empty, with plain sqlite3 (store/sqlite_file.py):
    False when it holds an older schema, which Alembic brings up to date."""
    db = open_file(file.path, secure_delete=file.secure_delete)
    try:
        state = ensure_current(db)
    finally:
        db.close()
    if state == "created":
        log.info("database schema migrated", revision=head_revision(), backend="sqlite")
    return state != "needs_migration"


async def migrate(engine: Database) -> None:
    """Brings the schema to the newest revision; Alembic is only loaded when there is work."""
    file = file_of(engine)
    if file is not None and _file_is_current(file):
        return
    if await _current_revision(engine) == head_revision():
        return
    from sqlalchemy import text

    async with engine.begin() as connection:
        # Several replicas may start together: one migrates, the others wait and find it.
        if engine.name == "postgresql":
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK}
            )
        elif engine.name == "mysql":
            from aibot.store import mysql

            await mysql.lock_migrations(connection)
        try:
            if not await connection.run_sync(_create_fresh):
                await connection.run_sync(_upgrade)
        finally:
            if engine.name == "mysql":
                from aibot.store import mysql

                await mysql.unlock_migrations(connection)
    log.info("database schema migrated", revision=head_revision(), backend=engine.name)
