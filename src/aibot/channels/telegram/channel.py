"""The Telegram channel: long polling or a webhook in, formatted and split replies out.

Updates are committed to the inbox before Telegram is told they were received: in polling mode
the offset that confirms an update is only sent with the next `getUpdates`, after the commit; in
webhook mode the 200 comes after the commit. A crash in between means a re-delivery, which the
inbox drops as a duplicate (unique on bot id + update_id).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, Response

from aibot.channels.base import ChannelContext
from aibot.channels.telegram.client import TelegramApi, TelegramError
from aibot.channels.telegram.format import TELEGRAM_TEXT_LIMIT, render_html, split_message
from aibot.channels.telegram.inbound import CHANNEL, ButtonPress, Notice, UpdateReader
from aibot.channels.text import split_plain
from aibot.config import TelegramChannelConfig
from aibot.core.errors import SendError
from aibot.core.events import PlatformEvent
from aibot.core.feedback import button_data, parse_button
from aibot.core.messages import Inbound, Outbound
from aibot.core.pipeline import DeltaSink

log = structlog.get_logger("aibot.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
WEBHOOK_PATH = "/telegram/webhook"
TYPING_EVERY = 4.0  # Telegram shows "typing…" for about 5 s
_ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
RATED = "Thanks for the feedback! 感谢反馈！"
NOT_RATED = "This answer can no longer be rated. 无法评价此回答。"


class TelegramChannel:
    name = CHANNEL

    def __init__(self, config: TelegramChannelConfig, context: ChannelContext) -> None:
        self._config = config
        self._inbox = context.inbox
        self._feedback = context.feedback
        self._events = context.events
        self._public_url = context.public_url
        self.api = TelegramApi(config.bot_token.get_secret_value(), config.api_base)
        self._reader: UpdateReader | None = None
        self._poller: asyncio.Task[None] | None = None
        self._migrated: dict[int, int] = {}
        self._progress: dict[int, int] = {}  # outbox id -> chunks already delivered
        self.drafts: dict[int, int] = {}  # inbox id -> message id of its streamed draft
        self.last_error: str | None = None

    @property
    def mode(self) -> str:
        return self._config.mode

    @property
    def exclusive(self) -> bool:
        return self._config.mode == "polling"

    def status(self) -> dict[str, Any]:
        return {"ok": self.last_error is None, "mode": self.mode, "error": self.last_error}

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Identifies the bot and starts receiving; a bad token is reported, not fatal."""
        try:
            me = await self.api.call("getMe")
        except TelegramError as exc:
            self.last_error = f"getMe failed: {exc} (check channels.telegram.bot_token)"
            log.error("telegram disabled", error=self.last_error)
            return
        self._reader = UpdateReader(self._config, int(me["id"]), str(me.get("username", "")))
        if self._config.mode == "webhook":
            await self._register_webhook()
        else:
            self._poller = asyncio.create_task(self._poll(), name="telegram-poll")
        log.info("telegram ready", bot=me.get("username"), mode=self._config.mode)

    async def stop(self) -> None:
        """Stops receiving; sending goes on until `close`, so the outbox's last pass works."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def close(self) -> None:
        await self.api.close()

    async def _register_webhook(self) -> None:
        assert self._public_url and self._config.webhook_secret
        url = self._public_url.rstrip("/") + WEBHOOK_PATH
        await self.api.call(
            "setWebhook",
            url=url,
            allowed_updates=_ALLOWED_UPDATES,
            secret_token=self._config.webhook_secret.get_secret_value(),
        )
        log.info("telegram webhook registered", url=url)

    # -- receiving ------------------------------------------------------------------------
    async def _poll(self) -> None:
        # Polling while a webhook is set fails with 409 forever: remove it first, keeping
        # whatever Telegram has queued for us.
        await self.api.call("deleteWebhook", drop_pending_updates=False)
        offset: int | None = None
        backoff = 1.0
        while True:
            try:
                updates = await self.api.call(
                    "getUpdates",
                    allowed=self._config.poll_timeout + 15,
                    offset=offset,
                    timeout=int(self._config.poll_timeout),
                    allowed_updates=_ALLOWED_UPDATES,
                )
                for update in updates:
                    await self.receive(update)
                    offset = int(update["update_id"]) + 1
                backoff = 1.0
                self.last_error = None
            except TelegramError as exc:
                self.last_error = str(exc)
                log.warning("telegram polling failed; retrying", error=str(exc), retry_in=backoff)
                await asyncio.sleep(exc.retry_after or backoff)
                backoff = min(backoff * 2, 60.0)
            except Exception as exc:
                # The store refused an update: the offset has not moved past it, so the next
                # getUpdates brings it again once the store is back.
                self.last_error = f"could not store an update: {exc!r}"
                log.exception("telegram update not stored; retrying", retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)

    async def receive(self, update: dict[str, Any]) -> None:
        """Commits one update to the inbox (or answers a non-text message).

        An update of a shape Telegram never sends (found by fuzzing with the right secret) is
        dropped with a warning: raising would answer a webhook with 500, and in polling mode
        stop the offset before it, so that no later update got through either.
        """
        assert self._reader is not None
        try:
            item = self._reader.read(update)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            log.warning(
                "telegram update not understood; dropped",
                update_id=str(update.get("update_id"))[:32],
                error=repr(exc)[:200],
            )
            return
        if isinstance(item, Inbound):
            await self._inbox.accept(item)
        elif isinstance(item, ButtonPress):
            await self._rate(item)
        elif isinstance(item, PlatformEvent):
            await self._events.handle(item)
        elif isinstance(item, Notice):
            with contextlib.suppress(TelegramError):
                await self.api.call(
                    "sendMessage",
                    chat_id=item.chat_id,
                    message_thread_id=item.thread_id,
                    text=self._config.text_only_notice,
                    reply_parameters={
                        "message_id": item.reply_to,
                        "allow_sending_without_reply": True,
                    },
                )

    async def _rate(self, press: ButtonPress) -> None:
        """👍/👎 under an answer: stored, and the user sees a short confirmation."""
        parsed = parse_button(press.data)
        rated = (
            parsed is not None
            and await self._feedback.rate(CHANNEL, press.user_id, parsed[0], parsed[1]) is not None
        )
        with contextlib.suppress(TelegramError):  # a query answered late only loses the toast
            await self.api.call(
                "answerCallbackQuery",
                callback_query_id=press.query_id,
                text=RATED if rated else NOT_RATED,
            )

    def router(self) -> APIRouter | None:
        if self._config.mode != "webhook":
            return None
        router = APIRouter(include_in_schema=False)
        secret = (
            self._config.webhook_secret.get_secret_value() if self._config.webhook_secret else ""
        )

        @router.post(WEBHOOK_PATH)
        async def webhook(request: Request) -> Response:
            presented = request.headers.get(SECRET_HEADER, "")
            if not secret or not hmac.compare_digest(presented.encode(), secret.encode()):
                return Response(status_code=401)
            if self._reader is None:
                return Response(status_code=503)
            try:
                update = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return Response(status_code=400)
            if isinstance(update, dict) and "update_id" in update:
                await self.receive(update)
            return Response(status_code=200)

        return router

    # -- sending --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def presence(self, inbound: Inbound) -> AsyncIterator[DeltaSink | None]:
        """Shows "typing…" while the model works on `inbound`; with `stream` on, also yields a
        sink that shows the answer as it is written in a draft message."""
        task = asyncio.create_task(self._typing(inbound.target))
        draft = _Draft(self, inbound, self._config.stream_interval) if self._config.stream else None
        try:
            yield draft
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _typing(self, target: dict[str, Any]) -> None:
        while True:
            with contextlib.suppress(TelegramError):
                await self.api.call(
                    "sendChatAction",
                    chat_id=self.chat_for(target),
                    message_thread_id=target.get("thread_id"),
                    action="typing",
                )
            await asyncio.sleep(TYPING_EVERY)

    def chat_for(self, target: dict[str, Any]) -> int:
        chat = int(target["chat_id"])
        return self._migrated.get(chat, chat)

    async def send(self, outbound: Outbound) -> None:
        """Sends the reply as Telegram HTML in ≤4096-unit parts; plain text if HTML is refused.

        Parts already delivered are remembered per outbox row, so a retry after a failure in
        the middle of a long answer does not repeat the beginning.
        """
        key = outbound.outbox_id or 0
        chunks = split_message(render_html(outbound.text))
        try:
            await self._send_chunks(outbound, chunks, "HTML", key)
        except TelegramError as exc:
            if not exc.bad_entities:
                raise _send_error(exc) from None
            log.warning("telegram refused our HTML; sending plain text", error=str(exc))
            self._progress.pop(key, None)
            try:
                plain = split_plain(outbound.text, TELEGRAM_TEXT_LIMIT)
                await self._send_chunks(outbound, plain, None, key)
            except TelegramError as plain_exc:
                raise _send_error(plain_exc) from None
        self._progress.pop(key, None)

    async def _send_chunks(
        self, outbound: Outbound, chunks: list[str], mode: str | None, key: int
    ) -> None:
        target = outbound.target
        last = len(chunks) - 1
        buttons = self._rating_buttons(target)
        draft = self.drafts.pop(outbound.inbox_id or 0, None)
        start = self._progress.get(key, 0)
        if (
            draft is not None
            and start == 0
            and await self._finish_draft(
                target, draft, chunks[0], mode, buttons if last == 0 else None
            )
        ):
            start = self._progress[key] = 1
        for index in range(start, len(chunks)):
            reply_to = target.get("reply_to") if index == 0 else None
            params: dict[str, Any] = {
                "text": chunks[index],
                "parse_mode": mode,
                "message_thread_id": target.get("thread_id"),
                "link_preview_options": {"is_disabled": True},
                "reply_parameters": {"message_id": reply_to, "allow_sending_without_reply": True}
                if reply_to
                else None,
                "reply_markup": buttons if index == last else None,
            }
            try:
                await self.api.call("sendMessage", chat_id=self.chat_for(target), **params)
            except TelegramError as exc:
                if exc.migrate_to is None:
                    raise
                self._migrated[int(target["chat_id"])] = exc.migrate_to
                log.info(
                    "telegram group became a supergroup", old=target["chat_id"], new=exc.migrate_to
                )
                await self.api.call("sendMessage", chat_id=exc.migrate_to, **params)
            self._progress[key] = index + 1

    def _rating_buttons(self, target: dict[str, Any]) -> dict[str, Any] | None:
        """👍/👎 under the answer's last part, when the answer came from a model."""
        request_id = target.get("request_id")
        if not self._config.rating_buttons or not isinstance(request_id, str):
            return None
        return {
            "inline_keyboard": [
                [
                    {"text": "👍", "callback_data": button_data(1, request_id)},
                    {"text": "👎", "callback_data": button_data(-1, request_id)},
                ]
            ]
        }

    async def _finish_draft(
        self,
        target: dict[str, Any],
        message_id: int,
        text: str,
        mode: str | None,
        buttons: dict[str, Any] | None,
    ) -> bool:
        """Turns the streamed draft into the answer's first part; False: send it anew."""
        try:
            await self.api.call(
                "editMessageText",
                chat_id=self.chat_for(target),
                message_id=message_id,
                text=text,
                parse_mode=mode,
                link_preview_options={"is_disabled": True},
                reply_markup=buttons,
            )
        except TelegramError as exc:
            if "message is not modified" in str(exc):
                return True
            if exc.bad_entities:
                raise
            log.info("could not finish the draft; sending the answer anew", error=str(exc))
            return False
        return True


class _Draft:
    """Streams an answer into one message, edited at most every `interval` seconds.

    The draft is plain text (a half-written answer is not valid Markdown); the outbox replaces
    it with the formatted answer. Errors only stop the preview, never the answer.
    """

    PREVIEW_LIMIT = 4000

    def __init__(self, channel: TelegramChannel, inbound: Inbound, interval: float) -> None:
        self._channel = channel
        self._inbound = inbound
        self._interval = interval
        self._text = ""
        self._next_show = time.monotonic() + interval
        self._message_id: int | None = None

    async def __call__(self, piece: str) -> None:
        self._text += piece
        if time.monotonic() >= self._next_show:
            await self._show()

    async def _show(self) -> None:
        self._next_show = time.monotonic() + self._interval
        text = self._text.strip()
        if not text:
            return
        if len(text) > self.PREVIEW_LIMIT:
            text = text[: self.PREVIEW_LIMIT] + "…"
        api, target = self._channel.api, self._inbound.target
        chat = self._channel.chat_for(target)
        try:
            if self._message_id is None:
                sent = await api.call(
                    "sendMessage",
                    chat_id=chat,
                    text=text,
                    message_thread_id=target.get("thread_id"),
                )
                self._message_id = int(sent["message_id"])
                self._channel.drafts[self._inbound.inbox_id or 0] = self._message_id
            else:
                await api.call(
                    "editMessageText", chat_id=chat, message_id=self._message_id, text=text
                )
        except TelegramError as exc:
            self._next_show = time.monotonic() + (exc.retry_after or self._interval)


def _send_error(exc: TelegramError) -> SendError:
    """429 waits as told; 403 (blocked, kicked) and other 4xx are final; the rest retries."""
    return SendError(str(exc), permanent=not exc.retryable, retry_after=exc.retry_after)
