"""Streams an answer into one interactive card, updated at most every `interval` seconds.

The card only previews: the outbox turns it into the final answer (or, if Feishu refuses the
card at any point, recalls it and sends the answer as ordinary messages), so a card error never
truncates or loses an answer. Rate limits only delay the next update. The preview talks to the
API client only; the card's message id is left in `cards` for the outbox's send.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from aibot.channels.errors import PlatformError
from aibot.channels.feishu.client import FeishuApi, rate_limited
from aibot.channels.feishu.format import content, split
from aibot.channels.feishu.inbound import FeishuReply

log = structlog.get_logger("aibot.feishu")


class CardStream:
    def __init__(
        self,
        api: FeishuApi,
        chat_id: str,
        answering: FeishuReply,
        *,
        interval: float,
        clock: Callable[[], float],
        cards: dict[int, str],
        key: int,
    ) -> None:
        self._api = api
        self._chat_id = chat_id
        self._answering = answering
        self._interval = interval
        self._clock = clock
        self._cards = cards
        self._key = key
        self._text = ""
        self._next_show = clock() + interval
        self._message_id: str | None = None
        self._broken = False

    async def __call__(self, piece: str) -> None:
        self._text += piece
        if not self._broken and self._clock() >= self._next_show:
            await self._show()

    async def _show(self) -> None:
        self._next_show = self._clock() + self._interval
        parts = split(self._text)
        if not parts:
            return
        preview = content("card", parts[0] + (" …" if len(parts) > 1 else ""))
        try:
            if self._message_id is None:
                self._message_id = await self._api.reply(
                    self._chat_id,
                    self._answering.message_id,
                    "interactive",
                    preview,
                    thread=self._answering.thread,
                )
                self._cards[self._key] = self._message_id
            else:
                await self._api.edit(self._message_id, preview)
        except PlatformError as exc:
            if rate_limited(exc):
                self._next_show = self._clock() + (exc.retry_after or self._interval)
                return
            log.info("feishu card streaming stopped; the answer will be sent whole", error=str(exc))
            self._broken = True
            if self._cards.pop(self._key, None) is not None:
                await self._api.recall(self._message_id or "")
