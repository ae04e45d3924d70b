"""`ai-bot doctor` for Telegram: the token is asked who it belongs to (getMe)."""

from __future__ import annotations

from aibot.channels.errors import PlatformError
from aibot.channels.telegram.client import TelegramApi
from aibot.config import TelegramChannelConfig
from aibot.i18n import translate
from aibot.ops.checks import Check


async def telegram_checks(config: TelegramChannelConfig, language: str) -> list[Check]:
    """The rows in `language` (the CLI's); Telegram's own error text stays as it came."""
    name = translate(language, "telegram")
    api = TelegramApi(config.bot_token.get_secret_value(), config.api_base)
    try:
        me = await api.call("getMe")
    except PlatformError as exc:
        if exc.code in (401, 404):
            fix = translate(
                language, "get a new token from @BotFather and set TELEGRAM_BOT_TOKEN in .env"
            )
        else:
            fix = translate(language, "check that {url} is reachable", url=config.api_base)
        detail = translate(language, "getMe failed: {error}", error=str(exc))
        return [Check(name, "fail", detail, fix)]
    finally:
        await api.close()
    detail = translate(
        language, "bot @{username} ({mode} mode)", username=me.get("username"), mode=config.mode
    )
    return [Check(name, "ok", detail)]
