"""A SQLite file store opened, created and found current with the standard library's sqlite3
alone (store/sqlite_file.py): the file SQLAlchemy would open, the schema and the PRAGMAs the
engine would give it, on real files (issue 20: no SQLAlchemy before serving)."""

from __future__ import annotations

import fnmatch
import os
import sqlite3
import stat
import threading
import tomllib
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from aibot.store.database import SqliteEngine
from aibot.store.engine import create_engine, migrate
from aibot.store.migrations import head_revision
from aibot.store.sqlite_ddl import generate
from aibot.store.sqlite_file import (
    DRIVERS,
    SCHEMA_FILE,
    ensure_current,
    file_path,
    keys_in_use,
    open_file,
)
from tests.support.probes import probe

ROOT = Path(__file__).resolve().parents[2]
FILE_URLS = [
    "sqlite:///ai-bot.db",
    "sqlite:///data/ai-bot.db",
    "sqlite:///./data/../ai-bot.db",
    "sqlite:////var/lib/ai-bot/ai-bot.db",
    "sqlite:////var/lib//ai-bot/ai-bot.db",
    "sqlite+pysqlite:///data/ai-bot.db",
    "sqlite+aiosqlite:////srv/ai-bot.db",
    "sqlite:///~/ai-bot.db",
    "sqlite:////~/ai-bot.db",
    "sqlite:///data dir/机器人 #1.db",
    "sqlite:///file:ai-bot.db",
    "sqlite:///C:/ai-bot.db",
    "sqlite:///:memory:x",
]
OTHER_URLS = [
    "sqlite://",
    "sqlite:///",
    "sqlite:///:memory:",
    "sqlite+pysqlite:///:memory:",
    "sqlite:///ai-bot.db?timeout=30",
    "sqlite:///file:ai-bot.db?mode=ro&uri=true",
    "sqlite:///data%20dir/ai-bot.db",
    "sqlite://localhost/ai-bot.db",
    "sqlite://user@/ai-bot.db",
    "SQLITE:///ai-bot.db",
    "sqlite+pysqlcipher:///ai-bot.db",
    "postgresql://aibot:pw@localhost/aibot",
    "mysql:///ai-bot.db",
    "ai-bot.db",
]


def sqlalchemy_file(url: str) -> Path:
    """What store/engine.py makes private for `url`: SQLAlchemy's database, `~` expanded."""
    parsed = make_url(url)
    assert parsed.get_backend_name() == "sqlite" and not parsed.query and parsed.host is None
    assert parsed.database not in (None, "", ":memory:")
    return Path(str(parsed.database)).expanduser()


@pytest.mark.parametrize("url", FILE_URLS)
def test_the_file_is_the_one_sqlalchemy_reads_from_the_url(url: str) -> None:
    assert file_path(url) == sqlalchemy_file(url)


@pytest.mark.parametrize("url", OTHER_URLS)
def test_other_urls_stay_with_the_engine(url: str) -> None:
    assert file_path(url) is None


@given(st.sampled_from(DRIVERS), st.text())
def test_any_name_is_read_as_sqlalchemy_reads_it(driver: str, name: str) -> None:
    url = f"{driver}:///{name}"
    found = file_path(url)
    if found is not None:
        assert found == sqlalchemy_file(url)
    elif not any(c in name for c in "?%\0") and name not in ("", ":memory:"):
        with pytest.raises(RuntimeError):  # `~user` with no such user: the engine fails too
            sqlalchemy_file(url)


def test_the_committed_schema_is_what_the_metadata_creates() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == generate(), (
        "src/aibot/store/sqlite_schema.sql differs from what store/schema.py creates now: "
        "run `make sqlite-schema` (python -m aibot.store.sqlite_ddl) and commit it"
    )


def test_the_schema_ships_in_the_wheel() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    globs = setuptools["setuptools"]["package-data"]["aibot"]
    relative = SCHEMA_FILE.relative_to(ROOT / "src" / "aibot").as_posix()
    assert any(fnmatch.fnmatch(relative, glob) for glob in globs), relative


def master(path: Path) -> list[tuple[str, ...]]:
    with closing(sqlite3.connect(path)) as db:
        rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        version = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert version == [(head_revision(),)]
    return sorted(rows)


async def test_a_new_file_gets_what_the_engine_creates(tmp_path: Path) -> None:
    with closing(open_file(tmp_path / "plain.db", secure_delete=False)) as db:
        assert ensure_current(db) == "created"
    engine = create_engine(f"sqlite:///{tmp_path / 'engine.db'}")
    await migrate(engine)  # an empty database: store/engine.py's _create_fresh
    await engine.dispose()
    created = master(tmp_path / "plain.db")
    assert created == master(tmp_path / "engine.db")
    assert {"alembic_version", "message_log", "ix_message_log_at"} <= {r[1] for r in created}


async def test_a_current_file_is_left_as_it_is(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'engine.db'}")
    await migrate(engine)
    await engine.dispose()
    for name in ("engine.db", "plain.db"):
        with closing(open_file(tmp_path / name, secure_delete=False)) as db:
            ensure_current(db)
            db.execute("INSERT INTO store_jobs VALUES ('kept', NULL, 0, '{}', 1)")
        with closing(open_file(tmp_path / name, secure_delete=False)) as db:
            assert ensure_current(db) == "current"
            assert db.execute("SELECT name FROM store_jobs").fetchall() == [("kept",)]


def test_starts_at_once_create_the_schema_once(tmp_path: Path) -> None:
    """Each start that finds no schema decides again under the write lock: one creates it,
    the others find it current (two `ai-bot` commands started together on a new file)."""
    barrier = threading.Barrier(4)

    def start() -> str:
        with closing(open_file(tmp_path / "ai-bot.db", secure_delete=False)) as db:
            barrier.wait()
            return ensure_current(db)

    with ThreadPoolExecutor(4) as pool:
        states = sorted(pool.map(lambda _: start(), range(4)))
    assert states == ["created", "current", "current", "current"]
    assert master(tmp_path / "ai-bot.db") == master_of_a_new_file(tmp_path / "alone.db")


def master_of_a_new_file(path: Path) -> list[tuple[str, ...]]:
    with closing(open_file(path, secure_delete=False)) as db:
        ensure_current(db)
    return master(path)


def test_another_revision_is_left_to_alembic(tmp_path: Path) -> None:
    with closing(open_file(tmp_path / "old.db", secure_delete=False)) as db:
        ensure_current(db)
        db.execute("UPDATE alembic_version SET version_num = '0012'")
        before = master_rows(db)
        assert ensure_current(db) == "needs_migration"
        assert master_rows(db) == before and not db.in_transaction
    with closing(open_file(tmp_path / "unversioned.db", secure_delete=False)) as db:
        db.execute("CREATE TABLE turns (id INTEGER PRIMARY KEY)")
        assert ensure_current(db) == "needs_migration"
        assert [r[1] for r in master_rows(db)] == ["turns"]


def master_rows(db: sqlite3.Connection) -> list[tuple[str, ...]]:
    return sorted(db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall())


def test_the_file_and_its_sidecars_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "ai-bot.db"
    with closing(open_file(path, secure_delete=False)) as db:
        ensure_current(db)
        files = [path, path.with_name("ai-bot.db-wal"), path.with_name("ai-bot.db-shm")]
        assert [stat.S_IMODE(f.stat().st_mode) for f in files] == [0o600] * 3
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    path.chmod(0o644)  # an older install's file is tightened at the next start
    open_file(path, secure_delete=False).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


PRAGMAS = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys", "secure_delete")


@pytest.mark.parametrize("secure_delete", [False, True])
async def test_the_connection_has_the_engines_pragmas(tmp_path: Path, secure_delete: bool) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'ai-bot.db'}", secure_delete=secure_delete)
    assert isinstance(engine, SqliteEngine)
    with engine.sync_engine.connect() as connection:
        engines = [tuple(connection.exec_driver_sql(f"PRAGMA {p}").one()) for p in PRAGMAS]
    await engine.dispose()
    with closing(open_file(tmp_path / "ai-bot.db", secure_delete=secure_delete)) as db:
        assert [db.execute(f"PRAGMA {p}").fetchone() for p in PRAGMAS] == engines
    assert engines[0] == ("wal",)
    if secure_delete:  # off is SQLite's build default, which Debian's turns on
        assert engines[-1] == (1,)


def test_a_directory_that_cannot_be_written(tmp_path: Path) -> None:
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes through the mode bits, not into sysfs
        directory = Path("/sys")
    with pytest.raises(OSError):
        open_file(directory / "ai-bot.db", secure_delete=False)
    assert not (directory / "ai-bot.db").exists()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "ai-bot.db"
    path.write_bytes(b"not a database, " * 512)
    with pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
        open_file(path, secure_delete=False)


def test_keys_in_use_without_the_table(tmp_path: Path) -> None:
    with closing(open_file(tmp_path / "ai-bot.db", secure_delete=False)) as db:
        assert keys_in_use(db) == {}
        ensure_current(db)
        db.execute(
            "INSERT INTO data_keys VALUES ('k1', 'current', 'c1', 1, 1), "
            "('k0', 'retired', 'c0', 1, 1), ('plain', 'retiring', NULL, 1, 1)"
        )
        assert keys_in_use(db) == {"k1": "c1", "plain": None}


def test_it_imports_no_sqlalchemy(tmp_path: Path) -> None:
    probe(
        "import sys\n"
        "import aibot.store.sqlite_file, aibot.store.key_check, aibot.store.migrations\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic'))\n"
        "assert not loaded, loaded\n",
        tmp_path,
    )
