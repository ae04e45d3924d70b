"""`ai-bot doctor` for Telegram: the token is asked who it belongs to (getMe)."""

from __future__ import annotations

from aibot.channels.errors import PlatformError
from aibot.channels.telegram.client import TelegramApi
from aibot.config import TelegramChannelConfig
from aibot.ops.checks import Check


async def telegram_checks(config: TelegramChannelConfig) -> list[Check]:
    api = TelegramApi(config.bot_token.get_secret_value(), config.api_base)
    try:
        me = await api.call("getMe")
    except PlatformError as exc:
        fix = (
            "get a new token from @BotFather and set TELEGRAM_BOT_TOKEN in .env"
            if exc.code in (401, 404)
            else f"check that {config.api_base} is reachable"
        )
        return [Check("telegram", "fail", f"getMe failed: {exc}", fix)]
    finally:
        await api.close()
    return [Check("telegram", "ok", f"bot @{me.get('username')} ({config.mode} mode)")]
