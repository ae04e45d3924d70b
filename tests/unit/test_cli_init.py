"""`ai-bot init`, run as the real command (a subprocess) against the fake provider on loopback.

The subprocess is started with asyncio so the fake, living in the test's event loop, keeps
answering while the command waits for it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from dotenv import dotenv_values

from aibot.config import load_config
from aibot.config.presets import PRESETS
from tests.fakes.openai_server import FakeOpenAI
from tests.support.cli import GOOD_KEY, WRONG_KEY, ai_bot, init_flags

CUSTOM_NUMBER = str(len(PRESETS) + 1)  # "custom" is the row after the presets


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=GOOD_KEY) as server:
        yield server


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`load_config` in the test reads the environment and ./.env: keep both ours."""
    for name in list(os.environ):
        if name.startswith("AIBOT_") or name.endswith("_API_KEY"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


async def test_non_interactive_writes_both_files(fake: FakeOpenAI, tmp_path: Path) -> None:
    run = await ai_bot(
        tmp_path, *init_flags(fake.base_url, GOOD_KEY, "--max-turns", "7", "--port", "18888")
    )

    assert run.code == 0, run.output
    config_text = (tmp_path / "config.yaml").read_text()
    env_file = tmp_path / ".env"
    assert GOOD_KEY not in config_text
    assert '"${DEEPSEEK_API_KEY}"' in config_text
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = dotenv_values(env_file)
    assert env["DEEPSEEK_API_KEY"] == GOOD_KEY
    gateway_key = env["AIBOT_API_KEY"]
    assert gateway_key and len(gateway_key) >= 40
    assert gateway_key in run.stdout and "/v1/chat/completions" in run.stdout
    assert "ai-bot run" in run.stdout and "http://127.0.0.1:18888/" in run.stdout
    probe = fake.requests[-1].json
    assert probe["max_tokens"] == 1 and probe["messages"][-1]["content"] == "ping"

    loaded = load_config(tmp_path / "config.yaml")
    config = loaded.config
    assert loaded.missing_env == []
    assert config.models.default == "deepseek"
    provider = config.models.providers["deepseek"]
    assert provider.preset == "deepseek" and provider.model == PRESETS["deepseek"].model
    assert provider.base_url == fake.base_url
    assert provider.api_key is not None and provider.api_key.get_secret_value() == GOOD_KEY
    assert [k.get_secret_value() for k in config.channels.api.keys] == [gateway_key]
    assert (config.server.host, config.server.port) == ("127.0.0.1", 18888)
    assert (config.session.max_turns, config.session.idle_reset) == (7, 1800.0)


async def test_wrong_key_exits_1_and_writes_nothing(fake: FakeOpenAI, tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, *init_flags(fake.base_url, WRONG_KEY))

    assert run.code == 1
    assert "the provider refused the key (HTTP 401)" in run.stderr
    assert "--no-verify" in run.stderr  # the way out is named
    assert "Traceback" not in run.output
    assert not (tmp_path / "config.yaml").exists()
    assert not (tmp_path / ".env").exists()


async def test_unreachable_provider_is_named(tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, *init_flags("http://127.0.0.1:9/v1", GOOD_KEY))

    assert run.code == 1
    assert "cannot reach http://127.0.0.1:9/v1" in run.stderr
    assert not (tmp_path / "config.yaml").exists()


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--preset", "deepseek"], "--api-key"),
        (["--api-key", GOOD_KEY], "--preset"),
        (["--preset", "nosuch", "--api-key", GOOD_KEY], "--preset"),
        (["--preset", "deepseek", "--api-key", GOOD_KEY, "--port", "70000"], "--port"),
        (["--preset", "custom"], "--base-url"),
    ],
)
async def test_missing_or_bad_flag_is_named(tmp_path: Path, flags: list[str], named: str) -> None:
    run = await ai_bot(tmp_path, "init", "--non-interactive", *flags)

    assert run.code == 2
    assert named in run.stderr
    assert "Traceback" not in run.output
    assert list(tmp_path.iterdir()) == []


async def test_custom_server_key_gets_a_generic_name(fake: FakeOpenAI, tmp_path: Path) -> None:
    run = await ai_bot(
        tmp_path,
        "init",
        "--non-interactive",
        "--preset",
        "custom",
        "--base-url",
        fake.base_url,
        "--api-key",
        GOOD_KEY,
        "--model",
        "m1",
    )

    assert run.code == 0, run.output
    assert dotenv_values(tmp_path / ".env")["AIBOT_MODEL_API_KEY"] == GOOD_KEY
    config = load_config(tmp_path / "config.yaml").config
    provider = config.models.providers["custom"]
    assert (config.models.default, provider.preset, provider.model) == ("custom", None, "m1")
    assert fake.requests[-1].json["model"] == "m1"


async def test_existing_config_needs_force(fake: FakeOpenAI, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("# mine\n")

    refused = await ai_bot(tmp_path, *init_flags(fake.base_url, GOOD_KEY))
    assert refused.code == 2
    assert "already exists" in refused.stderr and "--force" in refused.stderr
    assert config.read_text() == "# mine\n"
    assert not (tmp_path / ".env").exists()

    forced = await ai_bot(tmp_path, *init_flags(fake.base_url, GOOD_KEY, "--force"))
    assert forced.code == 0, forced.output
    assert "deepseek" in config.read_text()


async def test_existing_env_keeps_other_lines(fake: FakeOpenAI, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "# my settings\nOTHER=1\nDEEPSEEK_API_KEY=old\nAIBOT_API_KEY=kept-gateway-key-123\n"
    )
    env_file.chmod(0o644)

    run = await ai_bot(tmp_path, *init_flags(fake.base_url, GOOD_KEY))

    assert run.code == 0, run.output
    assert env_file.read_text().startswith("# my settings\nOTHER=1\n")
    env = dotenv_values(env_file)
    assert env["DEEPSEEK_API_KEY"] == GOOD_KEY
    assert env["AIBOT_API_KEY"] == "kept-gateway-key-123"
    assert "kept-gateway-key-123" not in run.output
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600


async def test_no_verify_makes_no_request(fake: FakeOpenAI, tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, *init_flags(fake.base_url, WRONG_KEY, "--no-verify"))

    assert run.code == 0, run.output
    assert fake.requests == []
    assert dotenv_values(tmp_path / ".env")["DEEPSEEK_API_KEY"] == WRONG_KEY


async def test_interactive_custom_server_from_stdin(fake: FakeOpenAI, tmp_path: Path) -> None:
    answers = [CUSTOM_NUMBER, fake.base_url, GOOD_KEY, "my-model", "5", "18889", ""]

    run = await ai_bot(tmp_path, "init", stdin="\n".join(answers) + "\n")

    assert run.code == 0, run.output
    assert "custom" in run.stdout  # the preset table was shown
    assert GOOD_KEY not in (tmp_path / "config.yaml").read_text()
    assert dotenv_values(tmp_path / ".env")["AIBOT_MODEL_API_KEY"] == GOOD_KEY
    config = load_config(tmp_path / "config.yaml").config
    provider = config.models.providers["custom"]
    assert config.models.default == "custom"
    assert (provider.base_url, provider.model) == (fake.base_url, "my-model")
    assert provider.api_key is not None and provider.api_key.get_secret_value() == GOOD_KEY
    assert (config.session.max_turns, config.server.port) == (5, 18889)


async def test_interactive_flags_skip_questions(fake: FakeOpenAI, tmp_path: Path) -> None:
    """Preset, URL and key come from flags; Enter accepts the model, turns and port defaults."""
    run = await ai_bot(
        tmp_path,
        "init",
        "--preset",
        "deepseek",
        "--base-url",
        fake.base_url,
        "--api-key",
        GOOD_KEY,
        stdin="\n\n\n\n",
    )

    assert run.code == 0, run.output
    assert "Provider (number or name)" not in run.stdout
    config = load_config(tmp_path / "config.yaml").config
    assert config.models.providers["deepseek"].model == PRESETS["deepseek"].model
    assert config.session.max_turns == 20
    assert config.server.port >= 18789  # the first free port from 18789 up


async def test_interactive_wrong_key_can_be_reentered(fake: FakeOpenAI, tmp_path: Path) -> None:
    answers = [CUSTOM_NUMBER, fake.base_url, WRONG_KEY, "m", "", "", "", "k", GOOD_KEY]

    run = await ai_bot(tmp_path, "init", stdin="\n".join(answers) + "\n")

    assert run.code == 0, run.output
    assert "the provider refused the key (HTTP 401)" in run.stderr
    assert dotenv_values(tmp_path / ".env")["AIBOT_MODEL_API_KEY"] == GOOD_KEY
    assert len(fake.requests) == 2


async def test_interactive_input_ending_early_is_one_line(tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, "init", stdin=CUSTOM_NUMBER + "\n")

    assert run.code == 2
    assert "--non-interactive" in run.stderr
    assert "Traceback" not in run.output
    assert list(tmp_path.iterdir()) == []


async def test_telegram_token_goes_to_env_and_enables_the_channel(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    token = "123456789:AAE" + "x" * 30
    run = await ai_bot(tmp_path, *init_flags(fake.base_url, GOOD_KEY), "--telegram-token", token)

    assert run.code == 0, run.output
    assert token not in (tmp_path / "config.yaml").read_text()
    assert dotenv_values(tmp_path / ".env")["TELEGRAM_BOT_TOKEN"] == token
    telegram = load_config(tmp_path / "config.yaml").config.channels.telegram
    assert telegram is not None and telegram.mode == "polling"
    assert telegram.bot_token.get_secret_value() == token
