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
import time
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from aibot.channels.base import ChannelContext
from aibot.channels.feishu.client import FeishuApi, FeishuError
from aibot.channels.feishu.connection import LongConnection
from aibot.channels.feishu.format import MSG_TYPES, content, split
from aibot.channels.feishu.inbound import CHANNEL, EventReader
from aibot.channels.feishu.preview import CardStream
from aibot.channels.feishu.verify import Rejected, WebhookVerifier
from aibot.config import FeishuChannelConfig
from aibot.core.errors import SendError
from aibot.core.events import PlatformEvent
from aibot.core.feedback import parse_button
from aibot.core.messages import Inbound, Outbound
from aibot.core.pipeline import DeltaSink

log = structlog.get_logger("aibot.feishu")

WEBHOOK_PATH = "/feishu/webhook"
PART_GAP = 0.25
MESSAGES = "/open-apis/im/v1/messages"
# Feishu refused the content itself (bad parameter, card build failure): plain text may pass.
FORMAT_ERRORS = {230001, 230099}
# The message answered is gone: post into its chat instead.
REPLY_TARGET_GONE = {230011, 231003}
CARD_ACTION = "card.action.trigger"
RATED = "Thanks for the feedback! 感谢反馈！"
NOT_RATED = "This answer can no longer be rated. 无法评价此回答。"
# Retrying cannot help: the bot was removed, the chat dissolved, no permission, too long, …
PERMANENT = {230002, 230006, 230013, 230022, 230025, 230027, 230035, 232009, 99991672, 99991401}


class FeishuChannel:
    name = CHANNEL

    def __init__(self, config: FeishuChannelConfig, context: ChannelContext) -> None:
        self._config = config
        self._inbox = context.inbox
        self._events = context.events
        self._feedback = context.feedback
        self.api = FeishuApi(config.app_id, config.app_secret.get_secret_value(), config.base_url)
        self._verifier = WebhookVerifier(
            config.verification_token.get_secret_value() if config.verification_token else "",
            config.encrypt_key.get_secret_value() if config.encrypt_key else "",
            config.signature_max_age,
        )
        self._reader: EventReader | None = None
        self._long: LongConnection | None = None
        self.cards: dict[int, str] = {}  # inbox id -> message id of its streamed card
        self._progress: dict[int, int] = {}  # outbox id -> parts already delivered
        self.last_error: str | None = None

    @property
    def exclusive(self) -> bool:
        return self._config.mode == "websocket"

    def status(self) -> dict[str, Any]:
        error = self.last_error or (self._long.error if self._long else None)
        return {
            "ok": error is None and self._reader is not None,
            "mode": self._config.mode,
            "error": error,
        }

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Learns the bot's open_id (to recognise @-mentions), then starts receiving."""
        try:
            bot = await self.api.bot_info()
        except FeishuError as exc:
            self.last_error = (
                f"bot info failed: {exc} (check channels.feishu.app_id / "
                "app_secret, and that the app has the bot ability)"
            )
            log.error("feishu disabled", error=self.last_error)
            return
        self._reader = EventReader(self._config, str(bot.get("open_id", "")))
        if self._config.mode == "websocket":
            self._long = LongConnection(self._config, self.receive, asyncio.get_running_loop())
            self._long.start()
        log.info("feishu ready", bot=bot.get("app_name"), mode=self._config.mode)

    async def stop(self) -> None:
        if self._long is not None:
            self._long.stop()

    async def close(self) -> None:
        await self.api.close()

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
        router = APIRouter(include_in_schema=False)

        @router.post(WEBHOOK_PATH)
        async def webhook(request: Request) -> Response:
            body = await request.body()
            try:
                verified = self._verifier.verify(dict(request.headers), body, time.time())
            except Rejected as exc:
                log.warning("feishu webhook refused", status=exc.status, reason=str(exc))
                return Response(status_code=exc.status)
            if verified.challenge is not None:
                return JSONResponse({"challenge": verified.challenge})
            if self._reader is None:
                return Response(status_code=503)
            if _event_type(verified.payload) == CARD_ACTION:
                return JSONResponse(await self._card_action(verified.payload))
            try:
                await self.receive(verified.payload)
            except Exception:
                log.exception("feishu event not stored; Feishu will re-send it")
                return Response(status_code=503)
            return JSONResponse({"msg": "ok"})

        return router

    async def _card_action(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A 👍/👎 press on an answer card; Feishu shows the returned toast (3 s deadline)."""
        event = payload.get("event")
        action = event.get("action") if isinstance(event, dict) else None
        operator = event.get("operator") if isinstance(event, dict) else None
        value = action.get("value") if isinstance(action, dict) else None
        user = operator.get("open_id") if isinstance(operator, dict) else None
        parsed = parse_button(str(value.get("rate", ""))) if isinstance(value, dict) else None
        rated = (
            parsed is not None
            and isinstance(user, str)
            and await self._feedback.rate(CHANNEL, user, parsed[0], parsed[1]) is not None
        )
        return {
            "toast": {
                "type": "success" if rated else "info",
                "content": RATED if rated else NOT_RATED,
            }
        }

    # -- sending --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def presence(self, inbound: Inbound) -> AsyncIterator[DeltaSink | None]:
        """With `stream` on, yields a sink that shows the answer in a card as it is written."""
        yield (
            CardStream(self, inbound, self._config.stream_interval) if self._config.stream else None
        )

    async def send(self, outbound: Outbound) -> None:
        """Sends the answer's parts in order. Parts already delivered are remembered per
        outbox row, so a retry (after a rate limit, say) resumes where it stopped; the uuid
        covers what memory cannot (a lost response, a restart)."""
        parts = split(outbound.text)
        row = outbound.outbox_id or 0
        start = self._progress.get(row, 0)
        card = self.cards.get(outbound.inbox_id or 0)
        rate = outbound.target.get("request_id") if self._config.rating_buttons else None
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
            try:
                await self._send_part(
                    outbound.target,
                    parts[index],
                    idempotency_key(outbound, index),
                    rate if index == len(parts) - 1 else None,
                )
            except FeishuError as exc:
                raise _send_error(exc) from None
            self._progress[row] = index + 1
        self._progress.pop(row, None)

    async def _send_part(
        self, target: dict[str, Any], text: str, key: str, rate: str | None
    ) -> None:
        kind = self._config.reply_format
        try:
            await self.reply(target, MSG_TYPES[kind], content(kind, text, rate), key)
        except FeishuError as exc:
            if kind == "text" or exc.code not in FORMAT_ERRORS:
                raise
            log.warning(
                "feishu refused the formatted answer; sending plain text",
                format=kind,
                error=str(exc),
            )
            await self.reply(target, "text", content("text", text), key)

    async def reply(
        self, target: dict[str, Any], msg_type: str, body: str, key: str | None = None
    ) -> str:
        """Replies to the message in `target`; posts to its chat instead when that message is
        gone, or when there is none (a greeting)."""
        payload: dict[str, Any] = {"msg_type": msg_type, "content": body}
        if key:
            payload["uuid"] = key
        if target.get("message_id"):
            try:
                data = await self.api.call(
                    "POST",
                    f"{MESSAGES}/{target['message_id']}/reply",
                    body={**payload, "reply_in_thread": bool(target.get("thread"))},
                )
                return str(data.get("message_id", ""))
            except FeishuError as exc:
                if exc.code not in REPLY_TARGET_GONE:
                    raise
        data = await self.api.call(
            "POST",
            MESSAGES,
            params={"receive_id_type": "chat_id"},
            body={"receive_id": target["chat_id"], **payload},
        )
        return str(data.get("message_id", ""))

    async def _finish_card(self, message_id: str, text: str, rate: str | None) -> bool:
        """Makes the streamed card the answer's first part; False: it must be sent anew."""
        try:
            await self.api.call(
                "PATCH", f"{MESSAGES}/{message_id}", body={"content": content("card", text, rate)}
            )
        except FeishuError as exc:
            if exc.rate_limited:
                raise _send_error(exc) from None
            log.info("could not finish the streamed card; sending the answer anew", error=str(exc))
            await self.recall(message_id)
            return False
        return True

    async def recall(self, message_id: str) -> None:
        """Best effort: a half-written card must not stay beside the full answer."""
        with contextlib.suppress(FeishuError):
            await self.api.call("DELETE", f"{MESSAGES}/{message_id}")


def _event_type(payload: dict[str, Any]) -> str | None:
    header = payload.get("header")
    return str(header.get("event_type")) if isinstance(header, dict) else None


def idempotency_key(outbound: Outbound, part: int) -> str:
    """Stable across retries and restarts, unique across databases (the answered message id
    is Feishu's); 32 hex characters, within Feishu's 50."""
    answered = outbound.target.get("message_id") or outbound.target.get("event_id")
    seed = f"{answered}|{outbound.outbox_id}|{part}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def _send_error(exc: FeishuError) -> SendError:
    permanent = exc.code in PERMANENT or (
        exc.status is not None
        and 400 <= exc.status < 500
        and exc.code is None
        and exc.status not in (408, 429)
    )
    return SendError(str(exc), permanent=permanent, retry_after=exc.retry_after)
