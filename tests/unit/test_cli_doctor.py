"""`ai-bot doctor` and `ai-bot config`, run as real commands against the fake provider.

Setups are written by `ai-bot init` itself (the path users take), then checked.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.support.cli import GOOD_KEY, WRONG_KEY, ai_bot, init_flags


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=GOOD_KEY) as server:
        yield server


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


async def init(tmp_path: Path, fake: FakeOpenAI, key: str, port: int) -> None:
    run = await ai_bot(
        tmp_path, *init_flags(fake.base_url, key, "--port", str(port), "--no-verify")
    )
    assert run.code == 0, run.output


async def test_good_setup_passes(fake: FakeOpenAI, tmp_path: Path, free_port: int) -> None:
    await init(tmp_path, fake, GOOD_KEY, free_port)

    run = await ai_bot(tmp_path, "doctor")

    assert run.code == 0, run.output
    assert "answered in" in run.stdout and "sqlite reachable" in run.stdout, run.output
    assert f"port {free_port}" in run.stdout and "free on 127.0.0.1" in run.stdout, run.output
    assert "all essential checks passed" in run.stdout, run.output
    assert "✘" not in run.stdout, run.output
    assert GOOD_KEY not in run.output, run.output
    assert fake.requests[-1].json["max_tokens"] == 1


async def test_wrong_key_fails_without_printing_it(
    fake: FakeOpenAI, tmp_path: Path, free_port: int
) -> None:
    await init(tmp_path, fake, WRONG_KEY, free_port)

    run = await ai_bot(tmp_path, "doctor")

    assert run.code == 1, run.output
    assert "the provider refused the key (HTTP 401)" in run.stdout, run.output
    assert "make a new one in the vendor's console" in run.stdout, run.output
    assert WRONG_KEY not in run.output, run.output
    assert "Traceback" not in run.output, run.output


async def test_port_in_use_is_a_warning(fake: FakeOpenAI, tmp_path: Path, busy_port: int) -> None:
    await init(tmp_path, fake, GOOD_KEY, busy_port)

    run = await ai_bot(tmp_path, "doctor")

    assert run.code == 0, run.output
    assert "in use on 127.0.0.1 — is ai-bot already running?" in run.stdout, run.output


async def test_no_config_and_no_key_fails(tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, "doctor")

    assert run.code == 1, run.output
    assert "running on defaults" in run.stdout, run.output
    assert "no model provider configured" in run.stdout, run.output


async def test_unset_variable_is_named(fake: FakeOpenAI, tmp_path: Path, free_port: int) -> None:
    await init(tmp_path, fake, GOOD_KEY, free_port)
    (tmp_path / ".env").write_text("AIBOT_API_KEY=gateway-key-1234567\n")

    run = await ai_bot(tmp_path, "doctor")

    assert run.code == 1, run.output
    assert "unset: DEEPSEEK_API_KEY" in run.stdout, run.output
    assert "no API key" in run.stdout, run.output


async def test_config_view_masks_secrets(fake: FakeOpenAI, tmp_path: Path, free_port: int) -> None:
    await init(tmp_path, fake, GOOD_KEY, free_port)

    run = await ai_bot(tmp_path, "config")

    assert run.code == 0, run.output
    assert "# from config.yaml" in run.stdout, run.output
    assert f"port: {free_port}" in run.stdout, run.output
    assert "api_key: sk-***" in run.stdout, run.output
    assert GOOD_KEY not in run.output, run.output


async def test_config_view_shows_old_sections_in_their_new_place(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text('api: {keys: ["old-place-key-123"]}\n')

    run = await ai_bot(tmp_path, "config")

    assert run.code == 0, run.output
    assert "# deprecated: config.yaml: the top-level `api:` section is now `channels.api:`" in (
        run.stdout
    ), run.output
    lines = run.stdout.splitlines()
    assert "api:" not in lines and "channels:" in lines, run.output
    assert "  api:" in lines and "old-place-key-123" not in run.output, run.output


async def test_config_schema_lists_every_key(tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, "config", "--schema")

    assert run.code == 0, run.output
    lines = run.stdout.splitlines()
    max_turns = next(line for line in lines if line.startswith("session.max_turns "))
    assert "int" in max_turns and "20" in max_turns and "exchanges kept" in max_turns.lower()
    assert any(line.startswith("models.providers.<name>.api_key ") for line in lines)
    idle = next(line for line in lines if line.startswith("session.idle_reset "))
    assert "duration" in idle and "1800s" in idle
    assert any(line.startswith("channels.api.keys ") for line in lines)
    assert any(line.startswith("channels.webchat.require_key ") for line in lines)
