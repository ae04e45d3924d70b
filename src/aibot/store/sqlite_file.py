"""A SQLite file store opened, checked and (when new) created with the standard library's
`sqlite3` alone, so `ai-bot run` can prove its store before serving without importing
SQLAlchemy, ~110 ms of a cold start's CPU (issue 20).

Only the common case takes this path: a file URL (`sqlite:///…`, no query string) whose
database is new or already at the newest revision. A new one gets `sqlite_schema.sql`, the
statements SQLAlchemy's `create_all` and the `alembic_version` table of store/engine.py emit
(generated and checked by store/sqlite_ddl.py), and the head's stamp, in one transaction. An
in-memory database, a URL with options, and a schema at another revision keep SQLAlchemy's
engine and Alembic (store/engine.py).

The file is made private and each connection gets the PRAGMAs exactly as the engine's
connections do: `apply_pragmas` is the one list both use.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from aibot.ops.file_modes import private_database
from aibot.store.migrations import head_revision

SchemaState = Literal["current", "created", "needs_migration"]
SCHEMA_FILE = Path(__file__).with_name("sqlite_schema.sql")
# The drivers SQLAlchemy's URL may name for SQLite; store/engine.py runs sqlite3 for each.
DRIVERS = ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite")
# WAL lets readers run during the group commit; NORMAL sync is durable across app crashes.
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)
# With encryption at rest, deleted and overwritten values are zeroed in the file too: the
# plaintext a migration replaced must not linger in free pages.
SECURE_DELETE = "PRAGMA secure_delete=ON"
_ANY_TABLE = (
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite~_%' ESCAPE '~'"
)


def database(url: str) -> str | None:
    """The database a SQLite file URL names, as written (what SQLAlchemy's
    `make_url(url).database` is); None for an in-memory database, another back end, a query
    string, a host, or an escaped character, which SQLAlchemy's parser reads."""
    driver, separator, name = url.partition(":///")
    if not separator or driver not in DRIVERS or name in ("", ":memory:"):
        return None
    if any(character in name for character in "?%\0"):
        return None
    return name


def file_path(url: str) -> Path | None:
    """The database file of a SQLite file URL, `~` expanded as store/engine.py expands it;
    None where SQLAlchemy's engine stays in charge (see `database`)."""
    name = database(url)
    if name is None:
        return None
    try:
        return Path(name).expanduser()
    except RuntimeError:  # `~` with no home directory: the engine says what it finds
        return None


def apply_pragmas(db: sqlite3.Connection, *, secure_delete: bool) -> None:
    """The PRAGMAs of every connection to the store, this module's and the engine's."""
    cursor = db.cursor()
    for pragma in ((SECURE_DELETE,) if secure_delete else ()) + PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def open_file(path: Path, *, secure_delete: bool) -> sqlite3.Connection:
    """A connection to the database file `path`, made private first (ops/file_modes.py): the
    first opening of a start. Raises OSError when the file cannot be made, sqlite3.Error when
    it is no database."""
    private_database(path)
    return connect_file(path, secure_delete=secure_delete)


def connect_file(path: Path, *, secure_delete: bool) -> sqlite3.Connection:
    """A connection to a database file already made private (by `open_file`, or when its
    engine was made), opened as SQLAlchemy's pysqlite dialect opens a file: its absolute path,
    usable from any thread (one at a time). In autocommit mode: a statement outside an
    explicit `BEGIN` is its own transaction, and nothing is left open by a read."""
    db = sqlite3.connect(os.path.abspath(path), isolation_level=None, check_same_thread=False)
    try:
        apply_pragmas(db, secure_delete=secure_delete)
    except BaseException:
        db.close()
        raise
    return db


def named_rows(cursor: sqlite3.Cursor) -> list[Mapping[str, Any]]:
    """A statement's rows by column name, as the store's readers take rows (none for a
    statement that returns no rows)."""
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def ensure_current(db: sqlite3.Connection) -> SchemaState:
    """ "current" when the store is at the head revision; "created" when it had no table and
    now has the schema and the head's stamp; "needs_migration" when it holds tables at another
    revision (or none recorded): the caller migrates it through Alembic (store/engine.py).
    A store found not current is decided again under the write lock, so two starts at once
    create it once."""
    head = head_revision()
    if _revision(db) == head:
        return "current"
    db.execute("BEGIN IMMEDIATE")
    try:
        state = _create_if_empty(db, head)
    except BaseException:
        db.rollback()
        raise
    db.commit()
    return state


def keys_in_use(db: sqlite3.Connection) -> dict[str, str | None]:
    """Key id → its check value, for the keys not yet retired, as store/data_keys.py reads
    them through the engine; empty when the store predates encryption (no table yet)."""
    try:
        rows = db.execute(
            "SELECT key_id, check_value FROM data_keys WHERE state != 'retired'"
        ).fetchall()
    except sqlite3.OperationalError:
        return {}
    return {key_id: check for key_id, check in rows}


def schema_statements() -> Iterator[str]:
    """The statements of `sqlite_schema.sql`, its comments left out."""
    statement = ""
    for line in SCHEMA_FILE.read_text(encoding="utf-8").splitlines(keepends=True):
        if not statement and (line.startswith("--") or not line.strip()):
            continue
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement.strip()
            statement = ""


def _create_if_empty(db: sqlite3.Connection, head: str) -> SchemaState:
    if _revision(db) == head:
        return "current"
    if db.execute(_ANY_TABLE).fetchone() is not None:
        return "needs_migration"
    for statement in schema_statements():
        db.execute(statement)
    db.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (head,))
    return "created"


def _revision(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # a new database: no version table yet
        return None
    return None if row is None else str(row[0])
