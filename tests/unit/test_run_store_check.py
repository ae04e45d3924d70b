"""`ai-bot run`'s store check (cli/preflight.py): one engine opens, migrates and proves the data
keys, on SQLite without a worker thread, and a first start creates the schema without asking
about each table first (issue 20, cold start)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import typer
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import event

from aibot.cli import preflight
from aibot.cli.preflight import check_store
from aibot.store import engine as engine_module
from aibot.store.crypto import Keyring
from aibot.store.data_keys import register
from aibot.store.database import SqliteEngine
from aibot.store.engine import create_engine, migrate
from aibot.store.migrations import MIGRATIONS_DIR, head_revision
from aibot.store.sqlite_file import open_file
from tests.support.probes import probe

KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def test_the_check_starts_no_thread_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    start = threading.Thread.start

    def recorded(thread: threading.Thread) -> None:
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", recorded)
    check_store(f"sqlite:///{tmp_path / 'data' / 'ai-bot.db'}", None)  # a first start
    check_store(f"sqlite:///{tmp_path / 'data' / 'ai-bot.db'}", None)  # and the next
    assert started == []


def test_a_key_the_store_does_not_know_ends_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LC_ALL", "LC_MESSAGES"):  # the CLI speaks the terminal's language
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    url = f"sqlite:///{tmp_path / 'ai-bot.db'}"

    async def seal_with_a() -> None:
        engine = create_engine(url)
        await migrate(engine)
        await register(engine, Keyring(KEY_A), 1.0)
        await engine.dispose()

    asyncio.run(seal_with_a())
    check_store(url, Keyring(KEY_B, [KEY_A]))  # the old key is still configured: fine
    for keyring, words in ((Keyring(KEY_B), "wrong key"), (None, "storage.encryption is not set")):
        with pytest.raises(typer.Exit) as ended:
            check_store(url, keyring)
        assert ended.value.exit_code == 2
        assert words in capsys.readouterr().err


async def test_a_first_start_creates_the_schema_without_asking_about_each_table(
    tmp_path: Path,
) -> None:
    """Through SQLAlchemy (an in-memory SQLite here, as PostgreSQL and MySQL): `create_all`
    without a query per table and index. A SQLite file is created from the schema script with
    plain sqlite3, nothing through the engine (store/sqlite_file.py)."""
    for url, created_by_the_engine in (
        ("sqlite://", True),
        (f"sqlite:///{tmp_path / 'ai-bot.db'}", False),
    ):
        engine = create_engine(url)
        assert isinstance(engine, SqliteEngine)
        statements: list[str] = []

        def seen(*args: Any, statements: list[str] = statements) -> None:
            statements.append(args[2])

        event.listen(engine.sync_engine, "before_cursor_execute", seen)
        await migrate(engine)
        await engine.dispose()
        created = any(s.lstrip().startswith("CREATE TABLE") for s in statements)
        assert created == created_by_the_engine, url
        assert [s for s in statements if "table_info" in s or "index_list" in s] == []
        if not created_by_the_engine:
            assert statements == []


def test_a_sealed_store_is_migrated_with_secure_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check migrates the store before the gateway's engine opens it: with encryption at
    rest the plaintext a migration replaces must be zeroed here too, as the gateway's engine
    zeroes it (store/engine.py). A SQLite file is opened with sqlite3 (store/sqlite_file.py),
    a schema to migrate through the engine: each is asked for it."""
    asked: list[tuple[str, bool]] = []

    def opening(path: Path, *, secure_delete: bool) -> sqlite3.Connection:
        asked.append(("file", secure_delete))
        return open_file(path, secure_delete=secure_delete)

    def recording(url: str, *, secure_delete: bool = False, blocking: bool = False) -> Any:
        asked.append(("engine", secure_delete))
        return create_engine(url, secure_delete=secure_delete, blocking=blocking)

    monkeypatch.setattr(preflight, "open_file", opening)
    monkeypatch.setattr(engine_module, "create_engine", recording)
    check_store(f"sqlite:///{tmp_path / 'sealed.db'}", Keyring(KEY_A))
    check_store(f"sqlite:///{tmp_path / 'plain.db'}", None)
    check_store(at_revision(tmp_path / "old.db", "0012"), Keyring(KEY_A))
    assert asked == [("file", True), ("file", False), ("file", True), ("engine", True)]


def at_revision(path: Path, revision: str) -> str:
    """A store an older ai-bot made: Alembic's migrations up to `revision`."""
    url = f"sqlite:///{path}"
    engine = create_sync_engine(url)
    with engine.begin() as connection:
        config = AlembicConfig()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()
    return url


def test_an_older_schema_is_migrated_through_alembic(tmp_path: Path) -> None:
    url = at_revision(tmp_path / "old.db", "0012")
    with closing(sqlite3.connect(tmp_path / "old.db")) as db, db:
        db.execute("INSERT INTO store_jobs VALUES ('kept', NULL, 0, '{}', 1)")
    check_store(url, None)
    with closing(sqlite3.connect(tmp_path / "old.db")) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
        assert db.execute("SELECT count(*) FROM message_log").fetchall() == [(0,)]  # 0013's
        assert db.execute("SELECT name FROM store_jobs").fetchall() == [("kept",)]


def refusal(url: str, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line `check_store` ends the command with (exit 2), in English."""
    with pytest.raises(typer.Exit) as ended:
        check_store(url, None)
    assert ended.value.exit_code == 2
    return " ".join(capsys.readouterr().err.split())


@pytest.fixture
def english(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LC_ALL", "LC_MESSAGES"):  # the CLI speaks the terminal's language
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")


@pytest.mark.usefixtures("english")
def test_a_file_that_is_not_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "ai-bot.db").write_bytes(b"not a database, " * 512)
    said = refusal(f"sqlite:///{tmp_path / 'ai-bot.db'}", capsys)
    assert (
        f"cannot open the SQLite database {tmp_path / 'ai-bot.db'} (file is not a database)" in said
    )
    assert "check storage.url" in said


@pytest.mark.usefixtures("english")
def test_a_directory_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root writes through the mode bits, not into sysfs
        directory = Path("/sys")
    said = refusal(f"sqlite:///{directory / 'ai-bot.db'}", capsys)
    assert f"cannot open the SQLite database {directory / 'ai-bot.db'} (" in said
    assert "can be created and written by this user" in said


@pytest.mark.parametrize("sealed", [False, True])
def test_a_sqlite_file_is_checked_without_sqlalchemy(tmp_path: Path, sealed: bool) -> None:
    """Issue 20: SQLAlchemy's import is ~110 ms of a cold start; a first start (the schema
    created) and the next (found current, the data keys read) need none of it."""
    probe(
        "import os, sys\n"
        "from aibot.cli.preflight import check_store\n"
        "from aibot.store.crypto import Keyring\n"
        "keyring = Keyring(os.urandom(32)) if sys.argv[2] == 'True' else None\n"
        "for start in ('first', 'next'):\n"
        "    check_store(sys.argv[1], keyring)\n"
        "    loaded = sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'alembic')))\n"
        "    assert not loaded, (start, loaded)\n",
        tmp_path,
        f"sqlite:///{tmp_path / 'data' / 'ai-bot.db'}",
        str(sealed),
    )
    with closing(sqlite3.connect(tmp_path / "data" / "ai-bot.db")) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (head_revision(),)
        ]
