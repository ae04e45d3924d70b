"""`channels.feishu`: what is required in which mode, and where the API is."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aibot.config import Config, FeishuChannelConfig


def test_webhook_mode_needs_the_verification_token() -> None:
    with pytest.raises(ValidationError, match="verification_token is required"):
        FeishuChannelConfig(app_id="cli_x", app_secret="s")
    assert FeishuChannelConfig(app_id="cli_x", app_secret="s", mode="websocket").mode == "websocket"


def test_domain_and_api_base() -> None:
    lark = FeishuChannelConfig(
        app_id="cli_x", app_secret="s", verification_token="t", domain="lark"
    )
    assert lark.base_url == "https://open.larksuite.com"
    own = FeishuChannelConfig(
        app_id="cli_x", app_secret="s", verification_token="t", api_base="http://127.0.0.1:9/"
    )
    assert own.base_url == "http://127.0.0.1:9"


def test_secrets_are_masked_and_durations_parsed() -> None:
    config = Config.model_validate(
        {
            "channels": {
                "feishu": {
                    "app_id": "cli_x",
                    "app_secret": "app-secret-value",
                    "verification_token": "vt-value",
                    "encrypt_key": "ek-value",
                    "stream_interval": "1500ms",
                    "signature_max_age": "2m",
                }
            }
        }
    )
    assert {"app-secret-value", "vt-value", "ek-value"} <= set(config.secrets())
    feishu = config.channels.feishu
    assert feishu is not None
    assert (feishu.stream_interval, feishu.signature_max_age) == (1.5, 120.0)
    assert "feishu" not in config.channels.unsupported()
