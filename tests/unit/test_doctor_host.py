"""`ai-bot doctor`'s host checks: secret file permissions and clock skew against a provider's
Date header (the fake provider's clock set off with `date_offset`)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aibot.cli.doctor_host import MAX_SKEW, clock_check, secret_file_checks
from aibot.cli.probe import probe
from aibot.config import Config, LoadedConfig, ProviderConfig
from tests.fakes.openai_server import FakeOpenAI
from tests.support.cli import GOOD_KEY, ai_bot, init_flags


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks speak the terminal's language; these read their English."""
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key=GOOD_KEY) as server:
        yield server


def provider(fake: FakeOpenAI) -> ProviderConfig:
    return ProviderConfig.model_validate(
        {"base_url": fake.base_url, "api_key": GOOD_KEY, "model": "fake-model"}
    )


@pytest.mark.parametrize("offset", [0.0, -120.0, 3600.0])
async def test_probe_measures_the_skew_from_the_date_header(
    fake: FakeOpenAI, offset: float
) -> None:
    fake.date_offset = offset
    probed = await probe("fake", provider(fake))
    assert probed.clock_skew is not None
    assert abs(probed.clock_skew + offset) < 2.5  # local minus server: the opposite sign


def test_clock_check_warns_beyond_the_limit() -> None:
    assert clock_check({"a": 3.0, "b": -MAX_SKEW + 1}).status == "ok"
    skewed = clock_check({"a": 3.0, "b": -(MAX_SKEW + 5)})
    assert skewed.status == "warn" and "35 s behind b's server time" in skewed.detail
    assert "ntp" in skewed.fix
    assert clock_check({}).status == "warn"


def loaded(tmp_path: Path, text: str, config: Config) -> LoadedConfig:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    path.chmod(0o644)
    return LoadedConfig(config=config, path=path)


def test_group_readable_env_and_literal_secrets_warn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = tmp_path / ".env"
    env.write_text("DEEPSEEK_API_KEY=sk-x\n")
    env.chmod(0o640)
    config = Config.model_validate({"channels": {"api": {"keys": ["literal-key-0123456789"]}}})
    by_ref = loaded(tmp_path, 'channels: {api: {keys: ["${AIBOT_API_KEY}"]}}\n', config)
    checks = secret_file_checks(by_ref)
    assert [(c.name, c.status) for c in checks] == [("permissions .env", "warn")]
    assert checks[0].fix == f"chmod 600 {env.resolve()}" and "0640" in checks[0].detail

    env.chmod(0o600)
    literal = loaded(tmp_path, 'channels: {api: {keys: ["literal-key-0123456789"]}}\n', config)
    checks = secret_file_checks(literal)
    assert [(c.name, c.status) for c in checks] == [
        ("permissions .env", "ok"),
        ("permissions config.yaml", "warn"),
    ]
    assert literal.path is not None
    literal.path.chmod(0o600)
    assert all(c.status == "ok" for c in secret_file_checks(literal))


async def test_doctor_reports_a_skewed_clock_and_an_open_env(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run = await ai_bot(
        tmp_path, *init_flags(fake.base_url, GOOD_KEY, "--port", str(port), "--no-verify")
    )
    assert run.code == 0, run.output
    (tmp_path / ".env").chmod(0o644)
    fake.date_offset = -600.0

    run = await ai_bot(tmp_path, "doctor")

    assert run.code == 0, run.output  # warnings only
    # Date has whole seconds, so the local clock reads up to a second more.
    assert re.search(r"\b60[01] s ahead of deepseek's server time", run.stdout), run.output
    assert f"chmod 600 {(tmp_path / '.env').resolve()}" in run.stdout, run.output
    assert GOOD_KEY not in run.output
