"""`ai-bot init` in the first hour (issue 18, item 7): it says where to get a key, lets the user
fix a base URL it cannot reach, checks the port is free and names a free one, and speaks the
terminal's language. Run as the real command against the fake provider on loopback."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from aibot.config import load_config
from aibot.config.presets import PRESETS
from tests.fakes.openai_server import FakeOpenAI
from tests.support.cli import GOOD_KEY, ai_bot, init_flags
from tests.support.net import free_port

CUSTOM_NUMBER = str(len(PRESETS) + 1)
UNREACHABLE = "http://127.0.0.1:9/v1"


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=GOOD_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AIBOT_") or name.endswith("_API_KEY"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on."""
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        yield port


def test_every_hosted_preset_says_where_to_get_a_key() -> None:
    for preset in PRESETS.values():
        if preset.needs_key:
            assert preset.key_url and preset.key_url.startswith("https://"), preset.name


async def test_the_key_question_says_where_to_get_one(fake: FakeOpenAI, tmp_path: Path) -> None:
    answers = [GOOD_KEY, "", "", "", ""]
    run = await ai_bot(
        tmp_path,
        "init",
        "--preset",
        "deepseek",
        "--base-url",
        fake.base_url,
        stdin="\n".join(answers) + "\n",
    )
    assert run.code == 0, run.output
    assert "Get a DeepSeek API key at https://platform.deepseek.com/api_keys" in run.stdout


async def test_a_missing_key_flag_says_where_to_get_one(tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, "init", "--non-interactive", "--preset", "moonshot")
    assert run.code == 2
    assert "--api-key" in run.stderr
    assert "https://platform.moonshot.cn/console/api-keys" in run.stderr.replace("\n", "")


async def test_an_unreachable_url_can_be_reentered(fake: FakeOpenAI, tmp_path: Path) -> None:
    # custom server at a dead URL; the check fails; Enter takes the offered "u" and the new URL
    answers = [CUSTOM_NUMBER, UNREACHABLE, GOOD_KEY, "m", "", "", "", "", fake.base_url]

    run = await ai_bot(tmp_path, "init", stdin="\n".join(answers) + "\n")

    assert run.code == 0, run.output
    assert f"cannot reach {UNREACHABLE}" in run.stderr
    assert "Re-enter the base URL (u)" in run.stdout
    provider = load_config(tmp_path / "config.yaml").config.models.providers["custom"]
    assert provider.base_url == fake.base_url
    assert len(fake.requests) == 1


async def test_a_preset_url_can_be_corrected(fake: FakeOpenAI, tmp_path: Path) -> None:
    """A preset whose default host is unreachable from here (a region, a proxy): the user types
    the URL that works and the preset is kept with that base_url."""
    flags = ["init", "--preset", "deepseek", "--base-url", UNREACHABLE, "--api-key", GOOD_KEY]
    run = await ai_bot(
        tmp_path, *flags, stdin="\n".join(["", "", "", "", "u", fake.base_url]) + "\n"
    )

    assert run.code == 0, run.output
    provider = load_config(tmp_path / "config.yaml").config.models.providers["deepseek"]
    assert (provider.preset, provider.base_url) == ("deepseek", fake.base_url)


async def test_a_busy_port_is_named_with_a_free_one(
    fake: FakeOpenAI, tmp_path: Path, busy_port: int
) -> None:
    answers = [CUSTOM_NUMBER, fake.base_url, GOOD_KEY, "m", "", str(busy_port), "", ""]

    run = await ai_bot(tmp_path, "init", stdin="\n".join(answers) + "\n")

    assert run.code == 0, run.output
    assert f"Port {busy_port} is in use (is ai-bot already running?); port" in run.stderr
    port = load_config(tmp_path / "config.yaml").config.server.port
    assert port != busy_port and port > busy_port


async def test_non_interactive_warns_of_a_busy_port(
    fake: FakeOpenAI, tmp_path: Path, busy_port: int
) -> None:
    run = await ai_bot(tmp_path, *init_flags(fake.base_url, GOOD_KEY, "--port", str(busy_port)))
    assert run.code == 0, run.output  # a script may start the gateway after stopping the other
    assert f"Port {busy_port} is in use" in run.stderr


async def test_the_wizard_speaks_chinese(fake: FakeOpenAI, tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, *init_flags(UNREACHABLE, GOOD_KEY), env={"LANG": "zh_CN.UTF-8"})
    assert run.code == 1
    assert f"无法连接 {UNREACHABLE}" in run.stderr and "--no-verify" in run.stderr
    assert "错误：" in run.stderr
