"""What the gateway decides and says when it is bound beyond loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
import structlog

from aibot.config import Config, LoadedConfig
from aibot.gateway.build import Gateway


def gateway(tmp_path: Path, **config: object) -> Gateway:
    data = {"storage": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"}, **config}
    return Gateway(LoadedConfig(config=Config.model_validate(data), path=None))


def test_public_bind_without_keys_warns_loudly(tmp_path: Path) -> None:
    gw = gateway(tmp_path, server={"host": "0.0.0.0"})
    with structlog.testing.capture_logs() as logs:
        gw.warn_about_setup()
    assert any("PUBLICLY BOUND WITHOUT API KEYS" in entry["event"] for entry in logs)
    assert gw.webchat_requires_key is True


@pytest.mark.parametrize(
    ("host", "keys", "warned", "page_key"),
    [
        ("127.0.0.1", [], False, False),
        ("0.0.0.0", ["k-123456"], False, True),
    ],
)
def test_loopback_or_keyed_bind_is_quiet(
    tmp_path: Path, host: str, keys: list[str], warned: bool, page_key: bool
) -> None:
    gw = gateway(tmp_path, server={"host": host}, channels={"api": {"keys": keys}})
    with structlog.testing.capture_logs() as logs:
        gw.warn_about_setup()
    assert any("PUBLICLY" in entry["event"] for entry in logs) is warned
    assert gw.webchat_requires_key is page_key
