"""The chat platforms this version knows: built from config, and checked by `ai-bot doctor`.

A platform's modules are imported only when it is configured (Telegram's Markdown parser,
WeCom's XML, Feishu's AES are not needed by a gateway that serves none of them), and an SDK a
mode needs (Feishu's long connection, for one) is imported by that mode when it starts, so
unused platforms cost nothing, not even start-up time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aibot.channels.base import Channel, ChannelContext
from aibot.config import Config
from aibot.core.directory import ChannelDirectory
from aibot.ops.checks import Check


def build_channels(
    config: Config, context: ChannelContext, directory: ChannelDirectory
) -> list[Channel]:
    """The configured platforms, each listed in `directory` for the outbox and the inbox."""
    channels: list[Channel] = []
    configured = config.channels
    if configured.webhook is not None:
        from aibot.channels.webhook.channel import WebhookChannel

        channels.append(WebhookChannel(configured.webhook, context))
    if configured.telegram is not None:
        from aibot.channels.telegram.channel import TelegramChannel

        channels.append(TelegramChannel(configured.telegram, context))
    if configured.dingtalk is not None:
        from aibot.channels.dingtalk.channel import DingtalkChannel

        channels.append(DingtalkChannel(configured.dingtalk, context))
    if configured.feishu is not None:
        from aibot.channels.feishu.channel import FeishuChannel

        channels.append(FeishuChannel(configured.feishu, context))
    if configured.wecom is not None:
        from aibot.channels.wecom.channel import WecomChannel

        channels.append(WecomChannel(configured.wecom, context))
    for channel in channels:
        directory.add(channel.name, channel, channel.presence, channel.media)
    return channels


async def channel_checks(config: Config, language: str) -> list[Check]:
    """Live checks of each configured platform's credentials and callback path, run at once;
    their rows in `language` (the CLI's)."""
    configured = config.channels
    pending: list[Awaitable[list[Check]]] = []
    if configured.telegram is not None:
        from aibot.channels.telegram.doctor import telegram_checks

        pending.append(telegram_checks(configured.telegram, language))
    if configured.dingtalk is not None:
        from aibot.channels.dingtalk.doctor import dingtalk_checks

        pending.append(dingtalk_checks(configured.dingtalk, language))
    if configured.feishu is not None:
        from aibot.channels.feishu.doctor import feishu_checks

        pending.append(feishu_checks(configured.feishu, config.server, language))
    if configured.wecom is not None:
        from aibot.channels.wecom.doctor import wecom_checks

        pending.append(wecom_checks(configured.wecom, config.server.public_url, language))
    return [check for checks in await asyncio.gather(*pending) for check in checks]
