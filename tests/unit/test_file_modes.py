"""The store, its WAL, the log files and backups are the owner's alone (issue 16, item 11):
created 0600 in 0700 directories whatever the umask, and `ai-bot doctor` warns about any that
group or others can read."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aibot.config import LoggingConfig
from aibot.ops import logging as ops_logging
from aibot.store.engine import create_engine
from tests.fakes.openai_server import FakeOpenAI
from tests.support.cli import GOOD_KEY, ai_bot, init_flags
from tests.support.net import free_port


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask (022), under which files are created 0644 unless asked otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_store_wal_and_data_directory_are_private(tmp_path: Path, open_umask: None) -> None:
    database = tmp_path / "data" / "ai-bot.db"
    engine = create_engine(f"sqlite:///{database}")
    async with engine.begin() as connection:
        await connection.exec_driver_sql("create table t (x text)")
        await connection.exec_driver_sql("insert into t values ('private')")
    async with engine.connect() as connection:  # keeps the WAL and shared memory open
        await connection.exec_driver_sql("select * from t")
        wal, shm = Path(f"{database}-wal"), Path(f"{database}-shm")
        assert wal.exists() and shm.exists()
        assert (mode(database), mode(wal), mode(shm)) == (0o600, 0o600, 0o600)
    await engine.dispose()
    assert mode(database.parent) == 0o700

    database.chmod(0o644)  # a store made by an earlier version is tightened at start
    await create_engine(f"sqlite:///{database}").dispose()
    assert mode(database) == 0o600


def test_log_files_are_private_through_rotation(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "logs" / "ai-bot.log"
    handler = ops_logging._handler(
        LoggingConfig(file=str(path), rotate="size", max_bytes=1024, backups=2)
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    for index in range(40):
        handler.emit(logging.LogRecord("t", logging.INFO, "", 0, "x" * 100 + str(index), (), None))
    handler.close()
    files = sorted(path.parent.iterdir())
    assert len(files) == 3, files  # rotated twice at least
    assert {mode(f) for f in files} == {0o600} and mode(path.parent) == 0o700


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=GOOD_KEY) as server:
        yield server


async def test_doctor_warns_about_readable_store_logs_and_backups(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    run = await ai_bot(
        tmp_path, *init_flags(fake.base_url, GOOD_KEY, "--port", str(free_port()), "--no-verify")
    )
    assert run.code == 0, run.output
    clean = await ai_bot(tmp_path, "doctor")
    assert "readable by you only" in clean.stdout, clean.output

    stores = sorted(tmp_path.rglob("*.db"))
    assert stores, list(tmp_path.rglob("*"))
    stores[0].chmod(0o644)
    (tmp_path / "ai-bot-backup-20260101-000000.db").write_bytes(b"")
    (tmp_path / "ai-bot-backup-20260101-000000.db").chmod(0o644)
    stores[0].parent.chmod(0o755)
    run = await ai_bot(tmp_path, "doctor", "-c", str(tmp_path / "config.yaml"))
    text = " ".join(run.stdout.split())
    assert text.count("other users on this machine can read") >= 2, run.output
    assert "chmod 600" in text and "ai-bot-backup-20260101-000000.db" in text, run.output


def test_tightening_an_open_database_keeps_its_locks(tmp_path: Path) -> None:
    """Closing any descriptor of a file drops the process's POSIX locks on it, SQLite's too: a
    check that opened a database the process already holds let another connection's close
    take it for the last one and delete the WAL under this one ("disk I/O error" at its next
    read: two gateways in one process on one file, the start's check beside the polls)."""
    import sqlite3
    import subprocess
    import sys

    from aibot.ops.file_modes import private_database

    path = tmp_path / "ai-bot.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("INSERT INTO t VALUES (1)")
    private_database(path)
    reader = "import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('SELECT * FROM t').close()"
    subprocess.run([sys.executable, "-c", reader, str(path)], check=True)
    assert Path(f"{path}-wal").exists()  # the other connection knew it was not the last
    assert holder.execute("SELECT x FROM t").fetchall() == [(1,)]
    holder.close()
    assert mode(path) == 0o600
