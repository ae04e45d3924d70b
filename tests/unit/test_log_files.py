"""Log lines mask personal data; `logging.file` writes rotated JSON; the leak check finds leaks."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

import aibot.ops.logging as log_module
from aibot.config import LoggingConfig
from aibot.ops.logging import SecretMasker, configure_logging
from tests.support.gateway import API_KEY, PROVIDER_KEY
from tests.support.log_leaks import GatewayRun, configured_secrets, find_leaks


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    root = logging.getLogger()
    for handler in root.handlers:
        handler.close()
    root.handlers.clear()
    structlog.reset_defaults()


def to_file(path: Path, **settings: object) -> None:
    config = LoggingConfig.model_validate({"file": str(path), **settings})
    configure_logging("info", "console", SecretMasker(["sk-secret-value-123"]), config)


def lines(*paths: Path) -> list[dict[str, object]]:
    return [
        json.loads(line) for path in paths for line in path.read_text(encoding="utf-8").splitlines()
    ]


def test_personal_data_is_masked_in_every_part_of_a_line(tmp_path: Path) -> None:
    path = tmp_path / "ai-bot.log"
    to_file(path)  # JSON whatever `format` says: a file is read by tools
    log = structlog.get_logger("t")
    log.info(
        "from alice@example.com",
        session="wx:13812345678",
        nested={"card": "6222 0200 1234 5678 903"},
        message_id="4641603982383516983",  # a WeCom MsgId that passes the card check
        ids=["110105199003071234"],
        count=1234567,
    )
    try:
        raise ValueError("bad number +86 138-1234-5678 with sk-secret-value-123")
    except ValueError:
        log.exception("failed")
    logging.getLogger("third.party").warning("mail %s", "bob@example.org")
    out = path.read_text(encoding="utf-8")
    for leaked in (
        "alice@",
        "13812345678",
        "6222 0200",
        "110105199003071234",
        "138-1234",
        "bob@",
        "sk-secret-value-123",
    ):
        assert leaked not in out
    first, failed, third = lines(path)
    assert first["event"] == "from [email]" and first["session"] == "wx:[phone]"
    assert first["nested"] == {"card": "[bank-card]"} and first["ids"] == ["[id-card]"]
    assert first["message_id"] == "4641603982383516983"  # named as an id: no card
    assert first["count"] == 1234567  # numbers are not text: left as they are
    assert "[phone]" in str(failed["exception"])
    assert third["event"] == "mail [email]"
    assert str(first["timestamp"]).startswith("20")  # the timestamp's digits are not touched


def test_lines_without_a_hint_skip_the_pii_patterns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def recording_mask(text: str, *, field: str = "") -> str:
        calls.append(text)
        return text

    monkeypatch.setattr(log_module, "mask_pii", recording_mask)
    to_file(tmp_path / "ai-bot.log")
    log = structlog.get_logger("t")
    log.info("message handled", channel="telegram", session="tg:42", ms=12.5, tokens=30)
    assert calls == []
    log.info("message handled", session="a@b.cn")
    log.info("message handled", session="tg:1381234 5678")
    assert calls == ["a@b.cn", "tg:1381234 5678"]


def test_size_rotation_keeps_the_configured_backups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "logs" / "ai-bot.log"  # the directory is created
    to_file(path, rotate="size", max_bytes=1024, backups=2)
    log = structlog.get_logger("t")
    formatted: list[str] = []
    formatter = logging.getLogger().handlers[0].formatter
    assert formatter is not None
    original = formatter.format

    def counting_format(record: logging.LogRecord) -> str:
        formatted.append("")
        return original(record)

    monkeypatch.setattr(formatter, "format", counting_format)
    for n in range(100):
        log.info("line", n=n, padding="x" * 40)
    assert len(formatted) == 100  # masked and rendered once per line, not once more to measure
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["ai-bot.log", "ai-bot.log.1", "ai-bot.log.2"]
    assert all(p.stat().st_size <= 1024 for p in path.parent.iterdir())
    numbers = [
        int(str(line["n"]))
        for line in lines(path.with_suffix(".log.2"), path.with_suffix(".log.1"), path)
    ]
    assert numbers == list(range(numbers[0], 100))  # the newest lines, in order, none lost


def test_daily_rotation_starts_a_dated_file(tmp_path: Path) -> None:
    path = tmp_path / "ai-bot.log"
    to_file(path, rotate="daily", backups=3)
    (handler,) = logging.getLogger().handlers
    assert isinstance(handler, logging.handlers.TimedRotatingFileHandler)
    assert handler.when == "MIDNIGHT" and handler.utc and handler.backupCount == 3
    log = structlog.get_logger("t")
    log.info("yesterday")
    handler.rolloverAt = int(time.time())  # as if midnight had just passed
    log.info("today")
    (dated,) = [p for p in tmp_path.iterdir() if p.name != "ai-bot.log"]
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    assert dated.name == f"ai-bot.log.{yesterday}"
    assert [line["event"] for line in lines(dated)] == ["yesterday"]
    assert [line["event"] for line in lines(path)] == ["today"]


def test_logging_config_rejects_nonsense() -> None:
    assert LoggingConfig().file is None  # stderr by default: journald and docker keep it
    with pytest.raises(ValueError, match="max_bytes"):
        LoggingConfig.model_validate({"max_bytes": 10})
    with pytest.raises(ValueError, match="rotate"):
        LoggingConfig.model_validate({"rotate": "weekly"})


def test_leak_check_finds_a_configured_secret_in_any_log_file(tmp_path: Path) -> None:
    config = {
        "channels": {
            "api": {"keys": [API_KEY]},
            "webhook": {"callback_url": "http://127.0.0.1:9/cb", "secret": "${HOOK_SECRET}"},
        },
    }
    secrets = configured_secrets(config, {"HOOK_SECRET": "hook-secret-from-env"}, [PROVIDER_KEY])
    assert {API_KEY, PROVIDER_KEY, "hook-secret-from-env"} <= secrets
    run = GatewayRun(tmp_path, secrets)
    (tmp_path / "gateway.log").write_text('{"event": "started", "key": "tes***"}\n')
    assert find_leaks([run]) == []
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "ai-bot.log.1").write_text("oops hook-secret-from-env\n")
    (leak,) = find_leaks([run])
    assert "ai-bot.log.1" in leak and "hook-secret-from-env" not in leak  # the report hides it


def test_leak_check_still_knows_the_fixed_keys_when_the_config_is_invalid() -> None:
    secrets = configured_secrets({"server": {"port": "not a port"}}, {}, [API_KEY, PROVIDER_KEY])
    assert secrets == {API_KEY, PROVIDER_KEY}
