"""Sealed values: AES-256-GCM with the key id inside, key formats, and the store's key check."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from aibot.config.encryption import EncryptionConfig
from aibot.core.messages import TurnRecord
from aibot.store.crypto import DataKeyError, Keyring, key_id, keyring_for, new_key, parse_key
from aibot.store.data_keys import register, verify
from aibot.store.database import Database
from aibot.store.repository import Repository
from aibot.store.schema import data_keys, turns
from aibot.store.writer import GroupCommitWriter

KEY_A, KEY_B = os.urandom(32), os.urandom(32)


def test_a_sealed_value_opens_with_its_key_only() -> None:
    ring = Keyring(KEY_A)
    sealed = ring.seal("机密 🔑 secret")
    assert sealed.startswith(f"enc1:{key_id(KEY_A)}:") and "secret" not in sealed
    assert ring.seal("same") != ring.seal("same")  # a fresh nonce each time
    assert ring.open(sealed) == "机密 🔑 secret"
    assert Keyring(KEY_B, [KEY_A]).open(sealed) == "机密 🔑 secret"  # old keys stay readable
    with pytest.raises(DataKeyError, match=f"data key {key_id(KEY_A)}, which is not configured"):
        Keyring(KEY_B).open(sealed)
    assert ring.open("written before encryption") == "written before encryption"


def test_a_tampered_or_forged_value_is_refused_not_shown() -> None:
    ring = Keyring(KEY_A)
    sealed = ring.seal("pay 10 yuan")
    blob = bytearray(base64.urlsafe_b64decode(sealed.split(":", 2)[2]))
    blob[-1] ^= 1
    tampered = sealed.rsplit(":", 1)[0] + ":" + base64.urlsafe_b64encode(bytes(blob)).decode()
    for bad in (tampered, f"enc1:{key_id(KEY_A)}:not-base64!!", f"enc1:{key_id(KEY_A)}:"):
        with pytest.raises(DataKeyError, match="damaged"):
            ring.open(bad)


def test_keys_are_read_as_base64_or_hex_and_anything_else_is_one_clear_error(
    tmp_path: Path,
) -> None:
    key = new_key()
    raw = base64.b64decode(key)
    assert parse_key(key, "k") == raw
    assert parse_key(base64.urlsafe_b64encode(raw).decode().rstrip("="), "k") == raw
    assert parse_key(raw.hex(), "k") == raw
    for bad in ("", "short", base64.b64encode(os.urandom(16)).decode(), "z" * 64):
        with pytest.raises(DataKeyError, match=r"not a 256-bit key .* `ai-bot data-key new`"):
            parse_key(bad, "storage.encryption.key")
    loose = tmp_path / "data.key"
    loose.write_text(key)
    loose.chmod(0o644)
    with pytest.raises(DataKeyError, match="readable by other users; chmod 600"):
        keyring_for(EncryptionConfig(key_file=loose))
    loose.chmod(0o600)
    ring = keyring_for(EncryptionConfig(key_file=loose, old_keys=[SecretStr(raw.hex())]))
    assert ring is not None and ring.current_id == key_id(raw)
    with pytest.raises(ValueError, match="exactly one of"):
        EncryptionConfig()


async def test_the_store_knows_its_keys_and_refuses_the_wrong_one(sql_engine: Database) -> None:
    a, b = Keyring(KEY_A), Keyring(KEY_B, [KEY_A])
    assert await verify(sql_engine, None) == {}  # never encrypted: anything goes
    assert await register(sql_engine, a, 1.0) == []  # empty store: nothing to migrate
    repo, writer = Repository(sql_engine, cipher=a), GroupCommitWriter(sql_engine)
    writer.start()
    await writer.submit(*repo.add_turns("s", [TurnRecord("user", "你好", 1.0)]))
    await writer.stop()
    async with sql_engine.connect() as connection:
        stored = (await connection.execute(select(turns.c.content))).scalar_one()
    assert stored.startswith("enc1:") and "你好" not in stored
    assert [t.content for t in await repo.recent_turns("s", 0.0, 5)] == ["你好"]

    with pytest.raises(DataKeyError, match="not set: configure the key they were encrypted"):
        await verify(sql_engine, None)
    with pytest.raises(DataKeyError, match=f"encrypted with data key {a.current_id}.* wrong key"):
        await verify(sql_engine, Keyring(KEY_B))
    assert await register(sql_engine, b, 2.0) == [a.current_id]  # rotation: a is retiring
    async with sql_engine.connect() as connection:
        states = dict(
            (await connection.execute(select(data_keys.c.key_id, data_keys.c.state))).all()
        )
    assert states == {a.current_id: "retiring", b.current_id: "current"}


async def test_rekey_migrates_plaintext_and_rotates_resuming_after_a_stop(
    sql_engine: Database,
) -> None:
    from aibot.store.jobs import JobBusy, JobLease
    from aibot.store.rekey import JOB, Rekey

    plain_repo, writer = Repository(sql_engine), GroupCommitWriter(sql_engine)
    writer.start()
    await writer.submit(
        *plain_repo.add_turns("s", [TurnRecord("user", f"old {i}", float(i)) for i in range(7)])
    )
    a = Keyring(KEY_A)
    assert await register(sql_engine, a, 10.0) == ["plain"]  # data from before encryption
    sealed_repo = Repository(sql_engine, cipher=a)
    await writer.submit(*sealed_repo.add_turns("s", [TurnRecord("user", "under a", 8.0)]))
    b = Keyring(KEY_B, [KEY_A])
    assert await register(sql_engine, b, 20.0) == sorted(["plain", a.current_id])

    class Stop(Exception):
        pass

    def stop_after_first_batch(_table: str, _last: int, _count: int) -> None:
        raise Stop

    with pytest.raises(Stop):
        await Rekey(sql_engine, b, "first", batch=3).run(stop_after_first_batch)
    other = JobLease(sql_engine, JOB, "second")
    await other.take()  # the stopped run let go of its lease at once
    with pytest.raises(JobBusy, match="second"):
        await Rekey(sql_engine, b, "third", batch=3).run()
    await other.release()
    report = await Rekey(sql_engine, b, "third", batch=3).run()
    assert report.resealed["turns"] == 5  # the first batch of 3 was kept, not redone
    assert report.retired == sorted(["plain", a.current_id])
    await writer.stop()
    async with sql_engine.connect() as connection:
        stored = (await connection.execute(select(turns.c.content))).scalars().all()
    assert all(Keyring.key_of(value) == b.current_id for value in stored)
    reader = Repository(sql_engine, cipher=Keyring(KEY_B))  # the old key is no longer needed
    contents = [t.content for t in await reader.recent_turns("s", -1.0, 20)]
    assert contents == [f"old {i}" for i in range(7)] + ["under a"]
    await verify(sql_engine, Keyring(KEY_B))


async def test_a_key_archived_objects_still_use_is_not_retired(sql_engine: Database) -> None:
    from sqlalchemy import insert

    from aibot.store.rekey import Rekey
    from aibot.store.schema import archive_objects

    a, b = Keyring(KEY_A), Keyring(KEY_B, [KEY_A])
    await register(sql_engine, a, 1.0)
    stub = {
        "object_key": "ai-bot/conversations/x.jsonl.gz",
        "session_key": "s",
        "day": "2026-01-01",
        "first_turn_id": 1,
        "last_turn_id": 2,
        "turns": 2,
        "first_at": 1.0,
        "last_at": 2.0,
        "size": 10,
        "sha256": "0" * 64,
        "key_ids": a.current_id,
        "archived_at": 3.0,
    }
    async with sql_engine.begin() as connection:
        await connection.execute(insert(archive_objects), stub)
    await register(sql_engine, b, 4.0)
    report = await Rekey(sql_engine, b, "me").run()
    assert report.archived == {a.current_id: 1} and report.retired == []
    with pytest.raises(DataKeyError, match=a.current_id):
        await verify(sql_engine, Keyring(KEY_B))  # still needed to restore that object


async def test_a_message_that_looks_sealed_cannot_stop_the_migration(
    sql_engine: Database,
) -> None:
    from aibot.store.rekey import Rekey

    forged = "enc1:00000000:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    repo, writer = Repository(sql_engine), GroupCommitWriter(sql_engine)
    writer.start()
    await writer.submit(*repo.add_turns("s", [TurnRecord("user", forged, 1.0)]))
    await writer.stop()
    a = Keyring(KEY_A)
    await register(sql_engine, a, 2.0)
    assert (await Rekey(sql_engine, a, "me").run()).retired == ["plain"]
    reader = Repository(sql_engine, cipher=a)
    assert [t.content for t in await reader.recent_turns("s", 0.0, 5)] == [forged]
