"""Secrets never reach the log output, whichever way they get into a log call."""

from __future__ import annotations

import logging

import pytest
import structlog

from aibot.ops.logging import SecretMasker, configure_logging

KEY = "sk-live-0123456789abcdef"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_secrets_are_masked_everywhere(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", fmt, SecretMasker([KEY, "webhook-secret-xyz"]))
    log = structlog.get_logger("t")
    log.info("calling provider", url="https://x", detail=f"upstream said: bad key {KEY}")
    log.info("headers", headers={"Authorization": f"Bearer {KEY}", "X-Other": "fine"})
    log.warning("config", api_key="another-unlisted-key", password="hunter22")
    logging.getLogger("third.party").error("failed with token %s", "webhook-secret-xyz")
    log.info("free text", text="Authorization: Bearer abcdefghijkl and sk-zzzzzzzzzzzz")
    out = capsys.readouterr().err
    for secret in (
        KEY,
        "webhook-secret-xyz",
        "another-unlisted-key",
        "hunter22",
        "abcdefghijkl",
        "sk-zzzzzzzzzzzz",
    ):
        assert secret not in out
    assert "fine" in out
    assert "sk-***" in out  # enough to tell which key, never enough to use it
    structlog.reset_defaults()
