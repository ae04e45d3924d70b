"""`ai-bot run`'s store check (cli/preflight.py): one engine opens, migrates and proves the data
keys, on SQLite without a worker thread, and a first start creates the schema without asking
about each table first (issue 20, cold start)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import event

from aibot.cli import preflight
from aibot.cli.preflight import check_store
from aibot.store.crypto import Keyring
from aibot.store.data_keys import register
from aibot.store.database import SqliteEngine
from aibot.store.engine import create_engine, migrate

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
    engine = create_engine(f"sqlite:///{tmp_path / 'ai-bot.db'}")
    assert isinstance(engine, SqliteEngine)
    statements: list[str] = []

    def seen(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    await migrate(engine)
    await engine.dispose()
    assert any(s.lstrip().startswith("CREATE TABLE") for s in statements)
    assert [s for s in statements if "table_info" in s or "index_list" in s] == []


def test_a_sealed_store_is_migrated_with_secure_delete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check migrates the store before the gateway's engine opens it: with encryption at
    rest the plaintext a migration replaces must be zeroed here too, as the gateway's engine
    zeroes it (store/engine.py)."""
    asked: list[bool] = []

    def recording(url: str, *, secure_delete: bool = False, blocking: bool = False) -> Any:
        asked.append(secure_delete)
        return create_engine(url, secure_delete=secure_delete, blocking=blocking)

    monkeypatch.setattr(preflight, "create_engine", recording)
    check_store(f"sqlite:///{tmp_path / 'sealed.db'}", Keyring(KEY_A))
    check_store(f"sqlite:///{tmp_path / 'plain.db'}", None)
    assert asked == [True, False]
