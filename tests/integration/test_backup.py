"""`ai-bot backup`, `restore` and `maintenance` against the real gateway's SQLite store.

The backup is taken while the gateway runs (the online backup API must give a consistent
copy), restored into a fresh data directory, and a new gateway started on it must continue
every conversation. Restore refuses a database a running gateway holds and files that are not
ai-bot backups; maintenance deletes only what retention allows, beside a running gateway.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from aibot.config import RetentionConfig
from aibot.store.backup import BackupError, backup, inspect
from aibot.store.engine import create_engine
from aibot.store.maintenance import purge
from tests.fakes.openai_server import FakeOpenAI
from tests.support.cli import AI_BOT, COLUMNS
from tests.support.databases import postgres_database
from tests.support.gateway import GatewayFactory

DAY = 86400.0
SESSIONS = {"alice": ["hello", "how are you?"], "bob": ["你好"], "carol": ["one", "two", "three"]}


async def ai_bot(*args: str, cwd: Path, lang: str = "en_US.UTF-8") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": COLUMNS, "LANG": lang},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def query(database: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Closes its connection: an open one would (rightly) make `restore` see the file in use."""
    with closing(sqlite3.connect(database)) as db, db:
        return db.execute(sql, params).fetchall()


def history(database: Path) -> list[tuple[Any, ...]]:
    return query(database, "SELECT session_key, role, content FROM turns ORDER BY id")


async def test_backup_while_running_then_restore_keeps_every_conversation(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    gw = await gateway_factory()
    for session, messages in SESSIONS.items():
        for message in messages:
            assert (await gw.chat(message, session=session))[0] == 200
    backup = tmp_path / "backup.db"
    code, out, err = await ai_bot(
        "backup", "-c", str(gw.config_path), "--out", str(backup), cwd=gw.workdir
    )
    assert code == 0, err
    assert "3 conversations, 12 turns" in out
    code, out, err = await ai_bot(
        "backup",
        "-c",
        str(gw.config_path),
        "--out",
        str(tmp_path / "b.db"),
        cwd=gw.workdir,
        lang="zh_CN.UTF-8",
    )
    assert code == 0 and "3 个会话、12 轮对话" in out, (out, err)
    assert backup.stat().st_mode & 0o777 == 0o600
    original = history(gw.workdir / "ai-bot.db")
    assert len(original) == 12
    await gw.stop()

    fresh = tmp_path / "restored"
    fresh.mkdir()
    config = {**gw.config, "storage": {"url": f"sqlite:///{fresh / 'ai-bot.db'}"}}
    (fresh / "config.yaml").write_text(yaml.safe_dump(config))
    code, out, err = await ai_bot(
        "restore", str(backup), "-c", str(fresh / "config.yaml"), cwd=fresh
    )
    assert code == 0, err
    assert "restored" in out and "12 turns" in out
    assert history(fresh / "ai-bot.db") == original

    restored = await gateway_factory(name="restored")  # the same data directory
    for session, messages in SESSIONS.items():
        assert (await restored.chat("what did I say?", session=session))[0] == 200
        sent = [m["content"] for m in fake_llm.requests[-1].json["messages"]]
        expected = [part for m in messages for part in (m, f"echo: {m}")]
        assert sent == [*expected, "what did I say?"]


async def test_restore_refuses_a_running_gateway_and_bad_files(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gw = await gateway_factory()
    assert (await gw.chat("keep me", session="s"))[0] == 200
    backup = tmp_path / "backup.db"
    assert (
        await ai_bot("backup", "-c", str(gw.config_path), "--out", str(backup), cwd=gw.workdir)
    )[0] == 0
    config = str(gw.config_path)

    code, _, err = await ai_bot("restore", str(backup), "-c", config, cwd=gw.workdir)
    assert code == 1 and "open in a running gateway" in err

    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("hello " * 200)
    code, _, err = await ai_bot("restore", str(not_sqlite), "-c", config, cwd=gw.workdir)
    assert code == 1 and "not a SQLite database" in err
    other = tmp_path / "other.db"
    query(other, "CREATE TABLE t (x)")
    code, _, err = await ai_bot("restore", str(other), "-c", config, cwd=gw.workdir)
    assert code == 1 and "not an ai-bot database" in err
    code, _, err = await ai_bot(
        "restore", str(tmp_path / "missing.db"), "-c", config, cwd=gw.workdir
    )
    assert code == 1 and "no such file" in err

    assert (await gw.chat("after the refusals", session="s"))[0] == 200  # untouched
    assert len(history(gw.workdir / "ai-bot.db")) == 4
    code, _, err = await ai_bot("restore", str(backup), "--force", "-c", config, cwd=gw.workdir)
    assert code == 0, err
    assert [r[2] for r in history(gw.workdir / "ai-bot.db")] == ["keep me", "echo: keep me"]
    await gw.stop()
    code, _, err = await ai_bot("restore", str(backup), "-c", config, cwd=gw.workdir)
    assert code == 0, err  # stopped: no --force needed


async def test_backup_of_a_missing_database_says_where_it_looked(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("storage: {url: 'sqlite:///data/none.db'}\n")
    code, _, err = await ai_bot("backup", "-c", "config.yaml", cwd=tmp_path)
    assert code == 1 and "no database at data/none.db" in err
    assert not (tmp_path / "data").exists()


async def test_postgresql_backup_runs_pg_dump(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    async with postgres_database() as url:
        gw = await gateway_factory({"storage": {"url": url}})
        assert (await gw.chat("in postgres", session="pg"))[0] == 200
        dump = tmp_path / "ai-bot.dump"
        code, out, err = await ai_bot(
            "backup", "-c", str(gw.config_path), "--out", str(dump), cwd=gw.workdir
        )
        assert code == 0, err
        assert "pg_restore --clean --if-exists" in out
        assert dump.stat().st_mode & 0o777 == 0o600
        listing = subprocess.run(
            ["pg_restore", "--list", str(dump)], capture_output=True, text=True, timeout=60
        )
        assert "TABLE DATA public turns" in listing.stdout, listing.stderr
        code, _, err = await ai_bot("restore", str(dump), "-c", str(gw.config_path), cwd=gw.workdir)
        assert code == 2 and "pg_restore" in err
        await gw.stop()


def add_old_rows(database: Path, now: float) -> None:
    """Rows at several ages and states, next to what the gateway itself wrote."""
    age: float  # days
    with closing(sqlite3.connect(database)) as db, db:
        for age, session in ((40, "old"), (40, "old"), (5, "recent")):
            db.execute(
                "INSERT INTO turns (session_key, role, content, prompt_tokens, "
                "completion_tokens, created_at) VALUES (?, 'user', 'x', 0, 0, ?)",
                (session, now - age * DAY),
            )
        db.execute(
            "INSERT INTO conversations (session_key, channel, user_id, context_from, "
            "created_at, updated_at) VALUES ('old', 'api', 'u', 0, ?, ?)",
            (now - 40 * DAY, now - 40 * DAY),
        )
        for message_id, status, age in (
            ("i-done", "done", 3),
            ("i-failed", "failed", 3),
            ("i-pending", "pending", 3),
            ("i-new", "done", 0.5),
        ):
            db.execute(
                "INSERT INTO inbox (channel, message_id, session_key, user_id, text, "
                "target, status, attempts, received_at, updated_at) VALUES "
                "('webhook', ?, 's', 'u', 't', '{}', ?, 0, ?, ?)",
                (message_id, status, now - age * DAY, now - age * DAY),
            )
        for status, age in (
            ("sent", 3),
            ("dead", 3),
            ("expired", 3),
            ("pending", 3),
            ("sent", 0.5),
        ):
            db.execute(
                "INSERT INTO outbox (channel, session_key, target, text, status, "
                "attempts, next_attempt_at, created_at, updated_at) VALUES "
                "('webhook', 's', '{}', ?, ?, 0, 0, ?, ?)",
                (f"{status}-{age}", status, now - age * DAY, now - age * DAY),
            )


async def test_maintenance_deletes_only_what_retention_allows_beside_a_running_gateway(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory({"retention": {"turns_days": 30, "inbox_days": 2, "outbox_days": 2}})
    assert (await gw.chat("fresh", session="live"))[0] == 200
    database = gw.workdir / "ai-bot.db"
    add_old_rows(database, time.time())

    code, out, err = await ai_bot("maintenance", "-c", str(gw.config_path), cwd=gw.workdir)
    assert code == 0, err
    assert (
        "2 turns, 1 conversation, 0 dashboard records, 0 attachment records, 2 inbox rows, "
        "3 outbox rows, 0 media files" in out
    )
    assert query(database, "SELECT session_key, content FROM turns ORDER BY id") == [
        ("api:key-1:live", "fresh"),
        ("api:key-1:live", "echo: fresh"),
        ("recent", "x"),
    ]
    assert query(database, "SELECT session_key FROM conversations") == [("api:key-1:live",)]
    assert sorted(query(database, "SELECT message_id FROM inbox")) == [("i-new",), ("i-pending",)]
    # The running gateway's rescan may answer the old pending inbox row meanwhile, adding an
    # outbox row of its own: only the rows this test planted are judged.
    planted = {
        f"{status}-{age}" for status in ("sent", "dead", "expired", "pending") for age in (3, 0.5)
    }
    kept = {text for (text,) in query(database, "SELECT text FROM outbox")} & planted
    assert kept == {"pending-3", "sent-0.5"}
    assert (await gw.chat("still answering", session="live"))[0] == 200


async def test_purge_works_in_batches(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    await gw.stop()
    database = gw.workdir / "ai-bot.db"
    now = time.time()
    with closing(sqlite3.connect(database)) as db, db:
        db.executemany(
            "INSERT INTO turns (session_key, role, content, prompt_tokens, "
            "completion_tokens, created_at) VALUES ('s', 'user', ?, 0, 0, ?)",
            [(str(i), now - (10 + i) * DAY) for i in range(10)],
        )
    engine = create_engine(f"sqlite:///{database}")
    try:
        deleted = await purge(engine, RetentionConfig(turns_days=13.5), now, batch=3)
    finally:
        await engine.dispose()
    assert deleted["turns"] == 6
    assert sorted(int(r[0]) for r in query(database, "SELECT content FROM turns")) == [0, 1, 2, 3]


def test_retention_keeps_inbox_rows_at_least_a_day() -> None:
    with pytest.raises(ValidationError, match="inbox_days"):
        RetentionConfig(inbox_days=0.25)
    assert RetentionConfig().turns_days is None  # conversations are kept unless asked


async def test_a_backup_from_a_newer_version_is_refused(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    gw = await gateway_factory()
    await gw.stop()
    newer = tmp_path / "newer.db"
    backup(gw.workdir / "ai-bot.db", newer)
    assert inspect(newer) == {"conversations": 0, "turns": 0, "inbox": 0, "outbox": 0}
    query(newer, "UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(BackupError, match="made by a newer ai-bot"):
        inspect(newer)
