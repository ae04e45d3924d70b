"""Streams an answer into one interactive card, updated at most every `interval` seconds.

The card only previews: the outbox turns it into the final answer (or, if Feishu refuses the
card at any point, recalls it and sends the answer as ordinary messages), so a card error never
truncates or loses an answer. Rate limits only delay the next update.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

from aibot.channels.feishu.client import FeishuError
from aibot.channels.feishu.format import content, split
from aibot.core.messages import Inbound

if TYPE_CHECKING:
    from aibot.channels.feishu.channel import FeishuChannel

log = structlog.get_logger("aibot.feishu")


class CardStream:
    def __init__(self, channel: FeishuChannel, inbound: Inbound, interval: float) -> None:
        self._channel = channel
        self._inbound = inbound
        self._interval = interval
        self._text = ""
        self._next_show = time.monotonic() + interval
        self._message_id: str | None = None
        self._broken = False

    async def __call__(self, piece: str) -> None:
        self._text += piece
        if not self._broken and time.monotonic() >= self._next_show:
            await self._show()

    async def _show(self) -> None:
        self._next_show = time.monotonic() + self._interval
        parts = split(self._text)
        if not parts:
            return
        preview = parts[0] + (" …" if len(parts) > 1 else "")
        channel, key = self._channel, self._inbound.inbox_id or 0
        try:
            if self._message_id is None:
                self._message_id = await channel.reply(
                    self._inbound.target, "interactive", content("card", preview)
                )
                channel.cards[key] = self._message_id
            else:
                await channel.api.call(
                    "PATCH",
                    f"/open-apis/im/v1/messages/{self._message_id}",
                    body={"content": content("card", preview)},
                )
        except FeishuError as exc:
            if exc.rate_limited:
                self._next_show = time.monotonic() + (exc.retry_after or self._interval)
                return
            log.info("feishu card streaming stopped; the answer will be sent whole", error=str(exc))
            self._broken = True
            if channel.cards.pop(key, None) is not None:
                await channel.recall(self._message_id or "")
