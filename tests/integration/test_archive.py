"""The object-storage archive against a real S3 API on loopback (moto, tests/fakes/s3_server.py):
a round trip through the real gateway, `ai-bot archive` killed with SIGKILL, the bucket going
away mid-run, and a bucket that refuses writes. The invariant checked after every failure: each
turn is in exactly one place, the database or an object its stub names, unchanged."""

from __future__ import annotations

import asyncio
import gzip
import signal
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select

from aibot.config.archive import ArchiveConfig
from aibot.core.messages import TurnRecord
from aibot.store.archive.archiver import Archiver
from aibot.store.archive.bucket import ArchiveError, Bucket
from aibot.store.archive.objects import unpack
from aibot.store.archive.restore import restore
from aibot.store.database import Database
from aibot.store.engine import create_engine, migrate
from aibot.store.repository import Repository
from aibot.store.schema import archive_objects, turns
from aibot.store.writer import GroupCommitWriter
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.s3_server import S3Server
from tests.support.admin_http import Console, create_user
from tests.support.cli import AI_BOT
from tests.support.conversation_calls import chat, remembered_users
from tests.support.gateway import GatewayFactory, gateway_env
from tests.support.sealed_store import KEY_A, SECRET_WORDS, ai_bot, sealed

DAY = 86400.0
NOW = 1_765_000_000.0


def all_turns(database: Path) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(database)) as db:
        return db.execute("SELECT * FROM turns ORDER BY id").fetchall()


async def test_archive_then_restore_brings_a_conversations_memory_back_exactly(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = remembered_users
    async with S3Server() as s3, aiohttp.ClientSession() as http:
        gw = await gateway_factory({"archive": s3.config(), **sealed(KEY_A)})
        for i in range(4):
            await chat(http, gw, "kept", f"{SECRET_WORDS[1]} {i}")
        await chat(http, gw, "other", "hello")
        database = gw.workdir / "ai-bot.db"
        before = [row for row in all_turns(database) if row[1] == "api:key-1:kept"]

        code, out, err = await ai_bot(gw, "archive", "--idle-days", "0")
        assert code == 0, err
        assert "archived 10 turns of 2 conversations" in out and "manifest" in out
        assert all_turns(database) == []
        keys = await s3.keys()
        assert any("/manifests/" in k for k in keys)
        await create_user(gw, "ops", "viewer")
        async with Console(gw) as console:  # the console reads archived turns in place
            assert (await console.login("ops"))[0] == 303
            status, page = await console.page("/admin/conversation?key=api:key-1:kept")
        assert status == 200 and f"{SECRET_WORDS[1]} 3" in page
        for key in keys:  # the bucket of an encrypted store holds no message text either
            data = await s3.read(key)
            text = (gzip.decompress(data) if key.endswith(".gz") else data).decode()
            assert not any(word in text for word in SECRET_WORDS)

        code, out, err = await ai_bot(gw, "restore-archive", "api:key-1:kept")
        assert code == 0, err
        assert "restored 8 turns" in out
        assert all_turns(database) == before  # every column of every row, ids included
        code, out, _ = await ai_bot(gw, "restore-archive", "api:key-1:kept")
        assert "nothing archived for api:key-1:kept" in out  # a second restore changes nothing
        await gw.restart()  # no cached memory: it is read back from the store
        reply = await chat(http, gw, "kept", "again")
    assert reply == "|".join(f"{SECRET_WORDS[1]} {i}" for i in range(4)) + "|again"


async def old_conversations(url: str, conversations: int, days: int = 2) -> list[int]:
    """Conversations last active weeks ago, `days` days of 3 exchanges each; their turn ids."""
    engine = create_engine(url)
    await migrate(engine)
    repo, writer = Repository(engine), GroupCommitWriter(engine)
    writer.start()
    try:
        for c in range(conversations):
            records = [
                TurnRecord(role, f"c{c} d{d} t{t} {role}", NOW - (40 - d) * DAY + t)
                for d in range(days)
                for t in range(3)
                for role in ("user", "assistant")
            ]
            last = records[-1].created_at
            await writer.submit(
                repo.save_conversation(f"c{c:03d}", "api", "u", last),
                *repo.add_turns(f"c{c:03d}", records),
            )
    finally:
        await writer.stop()
    async with engine.connect() as connection:
        ids = list((await connection.execute(select(turns.c.id))).scalars())
    await engine.dispose()
    return ids


async def check_each_turn_in_one_place(url: str, s3: S3Server, expected: list[int]) -> int:
    """Returns how many turns are archived."""
    engine = create_engine(url)
    async with engine.connect() as connection:
        in_db = list((await connection.execute(select(turns.c.id))).scalars())
        stubs = (await connection.execute(select(archive_objects))).all()
    await engine.dispose()
    archived: list[int] = []
    for stub in stubs:
        _header, rows = unpack(await s3.read(stub.object_key))
        assert [r["id"] for r in rows] == list(range(stub.first_turn_id, stub.last_turn_id + 1))
        archived += [r["id"] for r in rows]
    assert not set(in_db) & set(archived), "a turn is both in the database and archived"
    assert sorted(in_db + archived) == sorted(expected), "a turn was lost or duplicated"
    return len(archived)


async def run_cli(directory: Path, *args: str) -> tuple[int, str, str]:
    """`ai-bot ARGS` in `directory`, to the end; exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        *args,
        cwd=directory,
        env={**gateway_env(), "COLUMNS": "1000"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def config_file(directory: Path, url: str, archive: dict[str, Any]) -> Path:
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump({"storage": {"url": url}, "archive": archive}))
    return path


async def test_sigkill_during_archive_loses_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ai-bot.db'}"
    expected = await old_conversations(url, 60)
    async with S3Server() as s3:
        config = config_file(tmp_path, url, s3.config())
        process = await asyncio.create_subprocess_exec(
            str(AI_BOT), "archive", "-c", str(config), cwd=tmp_path, env=gateway_env()
        )
        deadline = asyncio.get_running_loop().time() + 60
        while len(await s3.keys()) < 6:
            assert process.returncode is None, "the archive finished before it could be killed"
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        await process.wait()
        archived = await check_each_turn_in_one_place(url, s3, expected)
        assert 0 < archived < len(expected)

        code, _out, err = await run_cli(tmp_path, "archive", "-c", str(config))
        assert code == 0, err
        assert await check_each_turn_in_one_place(url, s3, expected) == len(expected)


async def test_an_outage_mid_archive_stops_cleanly_and_a_rerun_finishes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ai-bot.db'}"
    expected = await old_conversations(url, 8)
    original = all_turns(tmp_path / "ai-bot.db")
    async with S3Server() as s3:
        bucket = Bucket(ArchiveConfig(**s3.config()))
        engine: Database = create_engine(url)
        written = 0

        def outage_after_three(_packed: object) -> None:
            nonlocal written
            written += 1
            if written == 3:
                s3.relay.go_down()

        with pytest.raises(ArchiveError, match=r"cannot write .* reachable"):
            await Archiver(engine, bucket, clock=lambda: NOW, on_object=outage_after_three).run(30)
        assert await check_each_turn_in_one_place(url, s3, expected) == 3 * 6
        await s3.relay.come_back()
        report = await Archiver(engine, bucket, clock=lambda: NOW).run(30)
        assert report.turns == len(expected) - 3 * 6 and report.manifest is not None
        assert await check_each_turn_in_one_place(url, s3, expected) == len(expected)
        restored = await restore(engine, bucket, None, clock=lambda: NOW)
        assert restored.turns == len(expected)
        await engine.dispose()
    assert all_turns(tmp_path / "ai-bot.db") == original


@pytest.mark.parametrize("refusal", ["read-only user", "wrong key"])
async def test_a_bucket_that_refuses_writes_changes_nothing(refusal: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ai-bot.db'}"
    await old_conversations(url, 3)
    original = all_turns(tmp_path / "ai-bot.db")
    async with S3Server() as s3:
        credentials = await s3.deny_writes()
        if refusal == "wrong key":
            credentials["secret_access_key"] = "not-the-secret"
        config = config_file(tmp_path, url, s3.config(**credentials))
        code, _out, err = await run_cli(tmp_path, "archive", "-c", str(config))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "the bucket refused the credentials" in lines[0], err
    assert "Traceback" not in err and credentials["secret_access_key"] not in err
    assert all_turns(tmp_path / "ai-bot.db") == original
    with closing(sqlite3.connect(tmp_path / "ai-bot.db")) as db:
        assert db.execute("SELECT count(*) FROM archive_objects").fetchone() == (0,)


async def test_the_daily_maintenance_archives_before_it_deletes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ai-bot.db'}"
    expected = await old_conversations(url, 2)
    async with S3Server() as s3:
        config = config_file(tmp_path, url, s3.config(after_days=7))
        code, out, err = await run_cli(tmp_path, "maintenance", "-c", str(config))
        assert code == 0, err
        assert out.startswith("archived 24 turns of 2 conversations"), out
        assert await check_each_turn_in_one_place(url, s3, expected) == len(expected)


async def test_eval_from_history_samples_archived_turns_too(tmp_path: Path) -> None:
    from aibot.evaluation.archived import archived_history
    from aibot.evaluation.history import sample_history

    url = f"sqlite:///{tmp_path / 'ai-bot.db'}"
    await old_conversations(url, 3)
    engine = create_engine(url)

    async def sample(archived: Any = None) -> list[Any]:
        return await sample_history(
            engine, days=60.0, limit=100, now=NOW, seed=1, archived=archived
        )

    before = await sample()
    async with S3Server() as s3:
        bucket = Bucket(ArchiveConfig(**s3.config()))
        await Archiver(engine, bucket, clock=lambda: NOW).run(30)
        assert await sample() == []
        archived = await archived_history(engine, bucket, NOW - 60 * DAY)
        after = await sample(archived)
    await engine.dispose()
    assert len(before) == 3 * 2 * 3 and after == before


async def test_an_object_changed_in_the_bucket_is_refused_not_restored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ai-bot.db'}"
    await old_conversations(url, 1, days=1)
    engine = create_engine(url)
    async with S3Server() as s3:
        bucket = Bucket(ArchiveConfig(**s3.config()))
        await Archiver(engine, bucket, clock=lambda: NOW).run(30)
        (key,) = [k for k in await s3.keys() if k.endswith(".jsonl.gz")]
        forged = gzip.compress(
            gzip.decompress(await s3.read(key)).replace(b"c0 d0 t0 user", b"c0 d0 t0 EVIL")
        )
        await asyncio.to_thread(s3.client().put_object, Bucket=s3.bucket, Key=key, Body=forged)
        with pytest.raises(ArchiveError, match="is not the object that was archived"):
            await restore(engine, bucket, None)
    await engine.dispose()
    assert all_turns(tmp_path / "ai-bot.db") == []  # nothing half-restored


async def test_doctor_writes_and_reads_the_bucket_and_proves_the_key(tmp_path: Path) -> None:
    from aibot.cli.doctor_data import data_checks
    from aibot.config import Config

    url = f"sqlite:///{tmp_path / 'ai-bot.db'}"
    async with S3Server() as s3:
        config = Config.model_validate(
            {"storage": {"url": url, **sealed(KEY_A)["storage"]}, "archive": s3.config()}
        )
        keys, bucket = await data_checks(config)
        assert (keys.status, bucket.status) == ("ok", "ok"), (keys, bucket)
        s3.relay.go_down()
        _, down = await data_checks(config)
        assert down.status == "fail" and "reachable" in down.detail
        config.archive = ArchiveConfig(**s3.config(**await s3.deny_writes()))
        await s3.relay.come_back()
        _, refused = await data_checks(config)
        assert refused.status == "fail" and "refused the credentials" in refused.detail
