"""`ai-bot run` that cannot start says why in one line and exits 2: a SQLite path that cannot be
created, a PostgreSQL that is not there, a port in use, a config that does not validate, a
schema that cannot be migrated or was written by a newer version. No traceback, no uvicorn."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from pathlib import Path

import pytest
import yaml

from tests.support.cli import AI_BOT, clean_env
from tests.support.net import free_port


async def run(tmp_path: Path, config: dict[str, object], lang: str = "en_US.UTF-8") -> list[str]:
    """The lines `ai-bot run` printed before it exited 2 (it must exit on its own)."""
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"server": {"port": free_port()}, **config}), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        "run",
        "-c",
        str(path),
        cwd=tmp_path,
        env={**clean_env(), "LANG": lang},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    lines = [line for line in output.splitlines() if line.strip()]
    assert process.returncode == 2, output
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines


def sqlite_at(path: Path, revision: str) -> str:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        db.execute("INSERT INTO alembic_version VALUES (?)", (revision,))
    return f"sqlite:///{path}"


async def test_a_sqlite_path_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    (line,) = await run(tmp_path, {"storage": {"url": f"sqlite:///{blocker}/sub/ai-bot.db"}})
    assert line.startswith("error: cannot open the SQLite database") and "storage.url" in line


async def test_an_unreachable_postgresql(tmp_path: Path) -> None:
    url = f"postgresql://bot:s3cret-pw@127.0.0.1:{free_port()}/aibot"
    (line,) = await run(tmp_path, {"storage": {"url": url}})
    assert line.startswith("error: cannot reach PostgreSQL at postgresql://bot:***@127.0.0.1:")
    assert "s3cret-pw" not in line and "is it running?" in line


async def test_the_same_line_in_chinese(tmp_path: Path) -> None:
    url = f"postgresql://bot:pw@127.0.0.1:{free_port()}/aibot"
    (line,) = await run(tmp_path, {"storage": {"url": url}}, lang="zh_CN.UTF-8")
    assert line.startswith("错误： 无法连接 PostgreSQL") and "请确认数据库已启动" in line


async def test_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (line,) = await run(tmp_path, {"server": {"port": port}})
    assert f"127.0.0.1:{port} is already in use" in line


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"server": {"port": 99999}}, "server.port: Input should be less than or equal to 65535"),
        ({"sessoin": {}}, "sessoin"),
    ],
)
async def test_a_config_that_does_not_validate(
    tmp_path: Path, config: dict[str, object], expected: str
) -> None:
    (line,) = await run(tmp_path, config)
    assert expected in line


async def test_a_schema_that_cannot_be_migrated(tmp_path: Path) -> None:
    url = sqlite_at(tmp_path / "old.db", "0001")  # claims 0001 but has none of its tables
    (line,) = await run(tmp_path, {"storage": {"url": url}})
    assert "could not bring the SQLite store" in line and "no such table" in line
    assert "ai-bot restore FILE" in line


async def test_a_store_written_by_a_newer_version(tmp_path: Path) -> None:
    url = sqlite_at(tmp_path / "new.db", "9999")
    (line,) = await run(tmp_path, {"storage": {"url": url}})
    assert "was written by a newer ai-bot (schema 9999)" in line


async def test_a_bad_encryption_key_in_chinese(tmp_path: Path) -> None:
    """The data key's problem is said in the terminal's language, not "错误：" then English."""
    config: dict[str, object] = {"storage": {"encryption": {"key": "not-a-key"}}}
    (line,) = await run(tmp_path, config, lang="zh_CN.UTF-8")
    assert line.startswith("错误： ") and "不是 256 位密钥" in line, line
    assert "not a 256-bit key" not in line


async def test_an_unknown_key_points_to_a_command_that_works(tmp_path: Path) -> None:
    """The hint must not name a command that fails on the same broken file."""
    (line,) = await run(tmp_path, {"sessoin": {}})
    assert "`ai-bot config --schema`" in line
    schema = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        "config",
        "--schema",
        "-c",
        str(tmp_path / "config.yaml"),
        cwd=tmp_path,
        env=clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(schema.communicate(), 60))[0].decode()
    assert schema.returncode == 0 and "storage.url" in output, output
