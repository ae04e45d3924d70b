"""The Feishu/Lark channel: a verified webhook or the long connection in, replies out.

Events are committed to the inbox (unique on message_id) before Feishu gets its 200, and the
200 never waits for the model: Feishu allows 3 s, then re-sends. Replies go through the reply
API, split under the size limits; each part carries a `uuid` derived from the message answered,
the outbox row and the part index, so a retry after a lost response is deduplicated by Feishu
itself instead of shown twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from aibot.channels.base import ChannelContext, Problem, error_text
from aibot.channels.errors import PlatformError
from aibot.channels.feishu.approval import answer_press, is_approval, question_card
from aibot.channels.feishu.client import FeishuApi, rate_limited
from aibot.channels.feishu.connection import LongConnection
from aibot.channels.feishu.format import MSG_TYPES, content, split
from aibot.channels.feishu.inbound import CHANNEL, EventReader, FeishuReply, chat_of
from aibot.channels.feishu.media import FeishuMedia
from aibot.channels.feishu.preview import CardStream
from aibot.channels.feishu.verify import WebhookVerifier
from aibot.config import FeishuChannelConfig
from aibot.core.events import PlatformEvent
from aibot.core.feedback import parse_button
from aibot.core.media import MediaFetcher
from aibot.core.messages import Inbound, Outbound, ReplyTarget
from aibot.core.pipeline import DeltaSink
from aibot.i18n import N_, pick, translate

if TYPE_CHECKING:
    from fastapi import APIRouter

log = structlog.get_logger("aibot.feishu")

PART_GAP = 0.25
# Feishu refused the content itself (bad parameter, card build failure): plain text may pass.
FORMAT_ERRORS = {230001, 230099}
RATED = N_("Thanks for the feedback!")
NOT_RATED = N_("This answer can no longer be rated.")


class FeishuChannel:
    name = CHANNEL

    def __init__(self, config: FeishuChannelConfig, context: ChannelContext) -> None:
        self._config = config
        self._inbox = context.inbox
        self._events = context.events
        self._feedback = context.feedback
        self._clock = context.clock
        self.api = FeishuApi(
            config.app_id,
            config.app_secret.get_secret_value(),
            config.base_url,
            clock=context.clock.monotonic,
        )
        self._media = FeishuMedia(self.api)
        self.media: MediaFetcher | None = self._media
        self._verifier = WebhookVerifier(
            config.verification_token.get_secret_value() if config.verification_token else "",
            config.encrypt_key.get_secret_value() if config.encrypt_key else "",
            config.signature_max_age,
        )
        self._reader: EventReader | None = None
        self._long: LongConnection | None = None
        self.cards: dict[int, str] = {}  # inbox id -> message id of its streamed card
        self._progress: dict[int, int] = {}  # outbox id -> parts already delivered
        self.last_error: Problem | None = None

    @property
    def exclusive(self) -> bool:
        return self._config.mode == "websocket"

    def status(self, language: str) -> dict[str, Any]:
        error = self.last_error or (self._long.error if self._long else None)
        return {
            "ok": error is None and self._reader is not None,
            "mode": self._config.mode,
            "error": error_text(error, language),
        }

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Learns the bot's open_id (to recognise @-mentions), then starts receiving."""
        try:
            bot = await self.api.bot_info()
        except PlatformError as exc:
            self.last_error = Problem(
                N_(
                    "bot info failed: {error} (check channels.feishu.app_id / "
                    "app_secret, and that the app has the bot ability)"
                ),
                {"error": str(exc)},
            )
            log.error("feishu disabled", error=str(self.last_error))
            return
        self._reader = EventReader(self._config, str(bot.get("open_id", "")), clock=self._clock.now)
        if self._config.mode == "websocket":
            self._long = LongConnection(
                self._config, self.receive, asyncio.get_running_loop(), self._card_action
            )
            self._long.start()
        log.info("feishu ready", bot=bot.get("app_name"), mode=self._config.mode)

    async def stop(self) -> None:
        if self._long is not None:
            self._long.stop()

    async def close(self) -> None:
        await self.api.close()
        await self._media.close()

    # -- receiving ------------------------------------------------------------------------
    async def receive(self, payload: dict[str, Any]) -> None:
        """Commits a message event to the inbox; returns once it is durable."""
        if self._reader is None:
            raise RuntimeError("feishu channel not started")
        item = self._reader.read(payload)
        if isinstance(item, Inbound):
            await self._inbox.accept(item)
        elif isinstance(item, PlatformEvent):
            await self._events.handle(item)

    def router(self) -> APIRouter | None:
        if self._config.mode != "webhook":
            return None
        from aibot.channels.feishu.webhook import build_router  # FastAPI: the full app's build

        return build_router(
            self._verifier,
            self._clock.now,
            lambda: self._reader is not None,
            self.receive,
            self._card_action,
        )

    async def _card_action(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A press on a card: approve/deny under a tool's question (`approval.py`), or 👍/👎
        under an answer; Feishu shows what is returned (3 s deadline)."""
        event = payload.get("event")
        action = event.get("action") if isinstance(event, dict) else None
        operator = event.get("operator") if isinstance(event, dict) else None
        value = action.get("value") if isinstance(action, dict) else None
        user = operator.get("open_id") if isinstance(operator, dict) else None
        if is_approval(value) and isinstance(value, dict):
            return await answer_press(self._inbox.approvals, str(user or ""), value)
        parsed = parse_button(str(value.get("rate", ""))) if isinstance(value, dict) else None
        rated = (
            parsed is not None
            and isinstance(user, str)
            and await self._feedback.rate(CHANNEL, user, parsed[0], parsed[1]) is not None
        )
        return {
            "toast": {
                "type": "success" if rated else "info",
                "content": translate(pick(None), RATED if rated else NOT_RATED),
            }
        }

    # -- sending --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def presence(self, inbound: Inbound) -> AsyncIterator[DeltaSink | None]:
        """With `stream` on, yields a sink that shows the answer in a card as it is written."""
        yield (
            CardStream(
                self.api,
                chat_of(inbound.target),
                FeishuReply.of(inbound.target),
                interval=self._config.stream_interval,
                clock=self._clock.monotonic,
                cards=self.cards,
                key=inbound.inbox_id or 0,
            )
            if self._config.stream
            else None
        )

    async def send(self, outbound: Outbound) -> None:
        """Sends the answer's parts in order. Parts already delivered are remembered per
        outbox row, so a retry (after a rate limit, say) resumes where it stopped; the uuid
        covers what memory cannot (a lost response, a restart)."""
        if outbound.target.approval is not None:
            await self._ask(outbound, outbound.target.approval)
            return
        parts = split(outbound.text)
        row = outbound.outbox_id or 0
        start = self._progress.get(row, 0)
        card = self.cards.get(outbound.inbox_id or 0)
        rate = outbound.target.request_id if self._config.rating_buttons else None
        if (
            start == 0
            and card is not None
            and parts
            and await self._finish_card(card, parts[0], rate if len(parts) == 1 else None)
        ):
            start = self._progress[row] = 1
        self.cards.pop(outbound.inbox_id or 0, None)
        for index in range(start, len(parts)):
            if index > start:
                await asyncio.sleep(PART_GAP)  # Feishu allows 5 messages/s per chat
            await self._send_part(
                outbound.target,
                parts[index],
                idempotency_key(outbound, index),
                rate if index == len(parts) - 1 else None,
            )
            self._progress[row] = index + 1
        self._progress.pop(row, None)

    async def _ask(self, outbound: Outbound, token: str) -> None:
        """A tool's question, as a card with approve/deny buttons (it is short: one part)."""
        card = orjson.dumps(question_card(outbound.text, token, outbound.target.locale))
        await self._reply(
            outbound.target, "interactive", card.decode(), idempotency_key(outbound, 0)
        )

    async def _send_part(self, target: ReplyTarget, text: str, key: str, rate: str | None) -> None:
        kind = self._config.reply_format
        try:
            await self._reply(target, MSG_TYPES[kind], content(kind, text, rate), key)
        except PlatformError as exc:
            if kind == "text" or exc.code not in FORMAT_ERRORS:
                raise
            log.warning(
                "feishu refused the formatted answer; sending plain text",
                format=kind,
                error=str(exc),
            )
            await self._reply(target, "text", content("text", text), key)

    async def _reply(self, target: ReplyTarget, msg_type: str, body: str, key: str) -> None:
        answering = FeishuReply.of(target)
        await self.api.reply(
            chat_of(target),
            answering.message_id,
            msg_type,
            body,
            thread=answering.thread,
            key=key,
        )

    async def _finish_card(self, message_id: str, text: str, rate: str | None) -> bool:
        """Makes the streamed card the answer's first part; False: it must be sent anew."""
        try:
            await self.api.edit(message_id, content("card", text, rate))
        except PlatformError as exc:
            if rate_limited(exc):
                raise
            log.info("could not finish the streamed card; sending the answer anew", error=str(exc))
            await self.api.recall(message_id)
            return False
        return True


def idempotency_key(outbound: Outbound, part: int) -> str:
    """Stable across retries and restarts, unique across databases (the answered message id
    is Feishu's); 32 hex characters, within Feishu's 50."""
    answering = FeishuReply.of(outbound.target)
    seed = f"{answering.message_id or answering.event_id}|{outbound.outbox_id}|{part}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]
