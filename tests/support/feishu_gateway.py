"""A gateway config that receives Feishu events from a `FakeFeishu` over its webhook."""

from __future__ import annotations

from typing import Any

from tests.fakes.feishu_api import FakeFeishu
from tests.support.net import free_port

KEY = "encrypt-key-xyz"
TOKEN = "vtoken123"
SECRET = "app-secret-123"


def feishu_config(lark: FakeFeishu, **extra: Any) -> dict[str, Any]:
    """Points `lark`'s event pusher at a fresh port the gateway will serve; `extra` joins the
    channel's section. The fake must be made with KEY, TOKEN and SECRET."""
    port = free_port()
    lark.webhook_url = f"http://127.0.0.1:{port}/feishu/webhook"
    return {
        "server": {"port": port},
        "channels": {
            "feishu": {
                "app_id": lark.app_id,
                "app_secret": SECRET,
                "verification_token": TOKEN,
                "encrypt_key": KEY,
                "api_base": lark.base_url,
                **extra,
            }
        },
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
    }
