"""Encryption at rest through the real gateway: what lands on disk and in dumps, the startup
check, the in-place migration and a key rotation while messages keep arriving."""

from __future__ import annotations

import asyncio
import base64
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from aibot.store.crypto import Keyring
from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.openai_server import FakeOpenAI
from tests.support.conversation_calls import chat, deliver, remembered_users
from tests.support.databases import SERVER_DATABASES
from tests.support.gateway import GatewayFactory, RunningGateway, deep_merge
from tests.support.sealed_store import KEY_A, KEY_B, SECRET_WORDS, ai_bot, key_name, sealed


def readable_strings(path: Path) -> str:
    """What `strings` finds in a file (ASCII runs), plus the file decoded as UTF-8 (for
    Chinese, which `strings` does not show)."""
    found = subprocess.run(
        ["strings", "-n", "6", str(path)], capture_output=True, text=True, check=True
    ).stdout
    return found + path.read_bytes().decode("utf-8", errors="ignore")


def files_of(database: Path) -> list[Path]:
    return [p for p in (database, Path(f"{database}-wal")) if p.exists()]


async def talk(gw: RunningGateway, receiver: CallbackReceiver, rounds: int) -> None:
    """Secret words through both paths: the webhook channel (inbox, outbox) and REST."""
    async with aiohttp.ClientSession() as http:
        for i in range(rounds):
            await deliver(http, gw.url, f"m{i}", "hooked", f"{SECRET_WORDS[0]} {i}")
            await chat(http, gw, "direct", f"{SECRET_WORDS[1]} {i}")
    await receiver.wait_for(rounds, timeout=30)


async def test_no_message_text_in_the_database_file_or_the_backup(
    gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    async with CallbackReceiver() as receiver:
        config = deep_merge(
            sealed(KEY_A), {"channels": {"webhook": {"callback_url": receiver.url}}}
        )
        gw = await gateway_factory(config)
        await talk(gw, receiver, 3)
        assert all(SECRET_WORDS[0] in r["text"] for r in receiver.received)
        code, _out, err = await ai_bot(gw, "backup", "--out", str(tmp_path / "backup.db"))
        assert code == 0, err
        database = gw.workdir / "ai-bot.db"
        while_running = [readable_strings(p) for p in files_of(database)]
        await gw.stop()
    dumps = [*while_running, *(readable_strings(p) for p in files_of(database))]
    dumps.append(readable_strings(tmp_path / "backup.db"))
    for text in dumps:
        assert not any(word in text for word in SECRET_WORDS)
    with closing(sqlite3.connect(database)) as db:
        contents = [c for (c,) in db.execute("SELECT content FROM turns")]
    assert len(contents) == 12 and all(c.startswith(f"enc1:{key_name(KEY_A)}:") for c in contents)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
async def test_no_message_text_in_the_dump_of_a_database_server(
    backend: str, gateway_factory: GatewayFactory, tmp_path: Path
) -> None:
    tool = "pg_dump" if backend == "postgresql" else "mariadb-dump"
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is needed for this test (apt-get install the database client)")
    async with SERVER_DATABASES[backend]() as url, CallbackReceiver() as receiver:
        config = deep_merge(
            sealed(KEY_A),
            {"storage": {"url": url}, "channels": {"webhook": {"callback_url": receiver.url}}},
        )
        gw = await gateway_factory(config)
        await talk(gw, receiver, 2)
        dump = tmp_path / "dump"
        code, _out, err = await ai_bot(gw, "backup", "--out", str(dump))
        assert code == 0, err
        await gw.stop()
    if backend == "postgresql":  # a custom-format dump is compressed: read it as SQL
        subprocess.run(["pg_restore", f"--file={dump}.sql", str(dump)], check=True)
        dump = Path(f"{dump}.sql")
    text = readable_strings(dump)
    assert "enc1:" in text  # the dump has the rows, sealed
    assert not any(word in text for word in SECRET_WORDS)


async def test_a_wrong_or_missing_key_is_one_clear_startup_error(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory(sealed(KEY_A))
    assert (await gw.chat("hello"))[0] == 200
    await gw.stop()
    gw.env["LANG"] = "en_US.UTF-8"  # the start-up line speaks the terminal's language
    for changed, expected in (
        (sealed(KEY_B), f"encrypted with data key {key_name(KEY_A)}"),
        ({"storage": {"encryption": None}}, "storage.encryption is not set"),
        (sealed("not-a-key"), "not a 256-bit key"),
    ):
        gw.config = deep_merge(gw.config, changed)
        logged = len(gw.log())
        with pytest.raises(RuntimeError, match="gateway exited with 2"):
            await gw.start()
        output = gw.log()[logged:]
        assert output.startswith("error: ") and output.count("\n") == 1, output
        assert expected in output


async def test_turning_it_on_migrates_an_existing_database_in_place(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = remembered_users
    gw = await gateway_factory()
    async with aiohttp.ClientSession() as http:
        for i in range(3):
            await chat(http, gw, "s", f"{SECRET_WORDS[0]} {i}")
        await gw.stop()
        database = gw.workdir / "ai-bot.db"
        assert any(SECRET_WORDS[0] in readable_strings(p) for p in files_of(database))
        gw.config = deep_merge(gw.config, sealed(KEY_A))
        await gw.start()
        deadline = asyncio.get_running_loop().time() + 30
        while "stored conversations re-encrypted" not in gw.log():
            assert asyncio.get_running_loop().time() < deadline, gw.log()[-2000:]
            await asyncio.sleep(0.1)
        reply = await chat(http, gw, "s", "and now?")
    assert reply == "|".join(f"{SECRET_WORDS[0]} {i}" for i in range(3)) + "|and now?"
    await gw.stop()
    assert not any(SECRET_WORDS[0] in readable_strings(p) for p in files_of(database))
    with closing(sqlite3.connect(database)) as db:
        assert dict(db.execute("SELECT key_id, state FROM data_keys")) == {
            "plain": "retired",
            key_name(KEY_A): "current",
        }
    code, out, err = await ai_bot(gw, "data-key", "status")
    assert code == 0, err
    assert f"data key {key_name(KEY_A)}: current (new values are encrypted with it)" in out
    assert "rows from before encryption was turned on: all encrypted" in out


async def test_rotation_under_load_loses_nothing(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = remembered_users
    conversations, turns = 8, 12
    async with CallbackReceiver() as receiver, aiohttp.ClientSession() as http:
        webhook = {"channels": {"webhook": {"callback_url": receiver.url}}}
        gw = await gateway_factory(deep_merge(sealed(KEY_A), webhook))
        rotated = asyncio.Event()

        async def converse(c: int) -> None:
            for k in range(turns):
                if k == turns // 2:
                    await rotated.wait()
                await deliver(http, gw.url, f"c{c}-m{k}", f"c{c}", f"c{c}.{k}")
                await asyncio.sleep(0.02)

        load = asyncio.gather(*(converse(c) for c in range(conversations)))
        assert await wait_for(lambda: len(receiver.received) >= conversations * 2)
        # The operator's steps: the new key current, the old one still readable, a restart
        # (platforms re-deliver what it refused meanwhile), then the rotation while it serves.
        gw.config = deep_merge(
            gw.config, {"storage": {"encryption": {"key": KEY_B, "old_keys": [KEY_A]}}}
        )
        await gw.restart()
        rotation = asyncio.create_task(ai_bot(gw, "data-key", "rotate", "--batch", "5"))
        await asyncio.sleep(0.3)
        rotated.set()
        code, out, err = await rotation
        await load
        await receiver.wait_for(conversations * turns, timeout=60)
        assert code == 0, err
        assert f"every value is encrypted with data key {key_name(KEY_B)}" in out
        assert f"no value uses {key_name(KEY_A)} any more" in out
        # The old key is gone from the config: everything still reads.
        gw.config = deep_merge(gw.config, sealed(KEY_B))
        gw.config["storage"]["encryption"]["old_keys"] = []
        await gw.restart()
        for c in range(2):
            await deliver(http, gw.url, f"c{c}-end", f"c{c}", "end")
        await receiver.wait_for(conversations * turns + 2, timeout=30)
        await gw.stop()
    answers = {(r["in_reply_to"], r["text"]) for r in receiver.received}
    assert {mid for mid, _ in answers} == {
        f"c{c}-m{k}" for c in range(conversations) for k in range(turns)
    } | {"c0-end", "c1-end"}
    for c in range(conversations):
        last = next(text for mid, text in answers if mid == f"c{c}-m{turns - 1}")
        assert last == "|".join(f"c{c}.{k}" for k in range(turns)), last
    for c in range(2):  # memory read back with the new key only
        last = next(text for mid, text in answers if mid == f"c{c}-end")
        assert last == "|".join(f"c{c}.{k}" for k in range(turns)) + "|end", last
    ring = Keyring(base64.b64decode(KEY_B))
    with closing(sqlite3.connect(gw.workdir / "ai-bot.db")) as db:
        values = [
            v
            for table in ("turns", "inbox", "outbox")
            for (v,) in db.execute(
                f"SELECT {'content' if table == 'turns' else 'text'} FROM {table}"  # noqa: S608
            )
        ]
    assert values and all(Keyring.key_of(v) == ring.current_id for v in values)


async def wait_for(condition: Any, timeout: float = 30.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True
