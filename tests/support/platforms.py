"""The four chat platforms at once: their fakes, and each channel pointed at its fake in its
webhook (HTTP) mode, as a gateway with every platform configured runs (the fuzz rig, the
console read in both languages)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingtalk
from tests.fakes.feishu_api import FakeFeishu
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWecom

TELEGRAM_TOKEN = "123456:TEST-TOKEN"
TELEGRAM_SECRET = "tg-fuzz-secret-1"
FEISHU_KEY = "fuzz-encrypt-key"
FEISHU_TOKEN = "fuzz-vtoken-123"
FEISHU_SECRET = "fuzz-app-secret-123"


async def platform_fakes(stack: AsyncExitStack) -> dict[str, Any]:
    """The fakes of Telegram, Feishu, WeCom and DingTalk, running until `stack` closes."""
    return {
        "telegram": await stack.enter_async_context(FakeTelegram(token=TELEGRAM_TOKEN)),
        "feishu": await stack.enter_async_context(
            FakeFeishu(
                encrypt_key=FEISHU_KEY, verification_token=FEISHU_TOKEN, app_secret=FEISHU_SECRET
            )
        ),
        "wecom": await stack.enter_async_context(FakeWecom()),
        "dingtalk": await stack.enter_async_context(FakeDingtalk()),
    }


def platforms_config(port: int, fakes: dict[str, Any]) -> dict[str, Any]:
    """The gateway on `port` (its public URL too: Telegram's webhook needs one) with every
    platform channel in its webhook mode against `fakes`."""
    return {
        "server": {"port": port, "public_url": f"http://127.0.0.1:{port}"},
        "channels": {
            "telegram": {
                "bot_token": TELEGRAM_TOKEN,
                "mode": "webhook",
                "webhook_secret": TELEGRAM_SECRET,
                "api_base": fakes["telegram"].base_url,
            },
            "feishu": {
                "app_id": fakes["feishu"].app_id,
                "app_secret": FEISHU_SECRET,
                "verification_token": FEISHU_TOKEN,
                "encrypt_key": FEISHU_KEY,
                "api_base": fakes["feishu"].base_url,
            },
            "wecom": {
                "corp_id": CORP_ID,
                "agent_id": AGENT_ID,
                "secret": SECRET,
                "token": TOKEN,
                "encoding_aes_key": AES_KEY,
                "api_base": fakes["wecom"].base_url,
            },
            "dingtalk": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "mode": "http",
                "api_base": fakes["dingtalk"].base_url,
            },
        },
    }
