"""The Telegram channel: long polling or a webhook in, formatted and split replies out.

Updates are committed to the inbox before Telegram is told they were received: in polling mode
the offset that confirms an update is only sent with the next `getUpdates`, after the commit; in
webhook mode the 200 comes after the commit. A crash in between means a re-delivery, which the
inbox drops as a duplicate (unique on bot id + update_id).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog

from aibot.channels.base import ChannelContext, Problem, error_text
from aibot.channels.errors import PlatformError
from aibot.channels.telegram.approval import answer_press, approval_buttons, is_approval
from aibot.channels.telegram.client import ChatMigrated, TelegramApi, bad_entities
from aibot.channels.telegram.connection import LongPoll
from aibot.channels.telegram.format import TELEGRAM_TEXT_LIMIT, render_html, split_message
from aibot.channels.telegram.inbound import (
    ALLOWED_UPDATES,
    CHANNEL,
    ButtonPress,
    Notice,
    TelegramReply,
    UpdateReader,
    chat_of,
)
from aibot.channels.telegram.media import TelegramMedia
from aibot.channels.telegram.preview import Draft, keep_typing
from aibot.channels.text import split_plain
from aibot.config import TelegramChannelConfig
from aibot.core.events import PlatformEvent
from aibot.core.feedback import button_data, parse_button
from aibot.core.media import MediaFetcher
from aibot.core.messages import Inbound, Outbound, ReplyTarget
from aibot.core.pipeline import DeltaSink
from aibot.i18n import N_, pick, translate

if TYPE_CHECKING:
    from fastapi import APIRouter

log = structlog.get_logger("aibot.telegram")

RATED = N_("Thanks for the feedback!")
NOT_RATED = N_("This answer can no longer be rated.")


class TelegramChannel:
    name = CHANNEL

    def __init__(self, config: TelegramChannelConfig, context: ChannelContext) -> None:
        self._config = config
        self._inbox = context.inbox
        self._feedback = context.feedback
        self._events = context.events
        self._public_url = context.public_url
        self._clock = context.clock
        self.api = TelegramApi(config.bot_token.get_secret_value(), config.api_base)
        self._media = TelegramMedia(self.api)
        self.media: MediaFetcher | None = self._media
        self._reader: UpdateReader | None = None
        self._poll = LongPoll(self.api, config.poll_timeout, self.receive)
        self._poller: asyncio.Task[None] | None = None
        self._migrated: dict[int, int] = {}
        self._progress: dict[int, int] = {}  # outbox id -> chunks already delivered
        self.drafts: dict[int, int] = {}  # inbox id -> message id of its streamed draft
        self.last_error: Problem | None = None

    @property
    def mode(self) -> str:
        return self._config.mode

    @property
    def exclusive(self) -> bool:
        return self._config.mode == "polling"

    def status(self, language: str) -> dict[str, Any]:
        error = self.last_error or self._poll.error
        return {"ok": error is None, "mode": self.mode, "error": error_text(error, language)}

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Identifies the bot and starts receiving; a bad token is reported, not fatal."""
        try:
            me = await self.api.call("getMe")
        except PlatformError as exc:
            self.last_error = Problem(
                N_("getMe failed: {error} (check channels.telegram.bot_token)"), {"error": str(exc)}
            )
            log.error("telegram disabled", error=str(self.last_error))
            return
        self._reader = UpdateReader(
            self._config, int(me["id"]), str(me.get("username", "")), clock=self._clock.now
        )
        if self._config.mode == "webhook":
            await self._register_webhook()
        else:
            self._poller = asyncio.create_task(self._poll.run(), name="telegram-poll")
        log.info("telegram ready", bot=me.get("username"), mode=self._config.mode)

    async def stop(self) -> None:
        """Stops receiving; sending goes on until `close`, so the outbox's last pass works."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def close(self) -> None:
        await self.api.close()
        await self._media.close()

    async def _register_webhook(self) -> None:
        assert self._public_url and self._config.webhook_secret
        from aibot.channels.telegram.webhook import WEBHOOK_PATH

        url = self._public_url.rstrip("/") + WEBHOOK_PATH
        await self.api.call(
            "setWebhook",
            url=url,
            allowed_updates=ALLOWED_UPDATES,
            secret_token=self._config.webhook_secret.get_secret_value(),
        )
        log.info("telegram webhook registered", url=url)

    # -- receiving ------------------------------------------------------------------------
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
        elif isinstance(item, ButtonPress) and is_approval(item.data):
            await answer_press(self.api, self._inbox.approvals, item)
        elif isinstance(item, ButtonPress):
            await self._rate(item)
        elif isinstance(item, PlatformEvent):
            await self._events.handle(item)
        elif isinstance(item, Notice):
            with contextlib.suppress(PlatformError):
                await self.api.call(
                    "sendMessage",
                    chat_id=item.chat_id,
                    message_thread_id=item.thread_id,
                    text=translate(pick(item.locale), self._config.text_only_notice),
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
        with contextlib.suppress(PlatformError):  # a query answered late only loses the toast
            await self.api.call(
                "answerCallbackQuery",
                callback_query_id=press.query_id,
                text=translate(pick(press.locale), RATED if rated else NOT_RATED),
            )

    def router(self) -> APIRouter | None:
        if self._config.mode != "webhook":
            return None
        from aibot.channels.telegram.webhook import build_router  # FastAPI: the full app's build

        secret = self._config.webhook_secret
        return build_router(
            secret.get_secret_value() if secret else "",
            lambda: self._reader is not None,
            self.receive,
        )

    # -- sending --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def presence(self, inbound: Inbound) -> AsyncIterator[DeltaSink | None]:
        """Shows "typing…" while the model works on `inbound`; with `stream` on, also yields a
        sink that shows the answer as it is written in a draft message."""
        chat, thread = self.chat_for(inbound.target), TelegramReply.of(inbound.target).thread_id
        task = asyncio.create_task(keep_typing(self.api, chat, thread))
        draft = (
            Draft(
                self.api,
                chat,
                thread,
                interval=self._config.stream_interval,
                clock=self._clock.monotonic,
                drafts=self.drafts,
                key=inbound.inbox_id or 0,
            )
            if self._config.stream
            else None
        )
        try:
            yield draft
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def chat_for(self, target: ReplyTarget) -> int:
        """The chat to send to, following a group's move to a supergroup."""
        chat = chat_of(target)
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
        except PlatformError as exc:
            if not bad_entities(exc):
                raise
            log.warning("telegram refused our HTML; sending plain text", error=str(exc))
            self._progress.pop(key, None)
            plain = split_plain(outbound.text, TELEGRAM_TEXT_LIMIT)
            await self._send_chunks(outbound, plain, None, key)
        self._progress.pop(key, None)

    async def _send_chunks(
        self, outbound: Outbound, chunks: list[str], mode: str | None, key: int
    ) -> None:
        target = outbound.target
        reply = TelegramReply.of(target)
        last = len(chunks) - 1
        buttons = approval_buttons(target) or self._rating_buttons(target)
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
            reply_to = reply.reply_to if index == 0 else None
            params: dict[str, Any] = {
                "text": chunks[index],
                "parse_mode": mode,
                "message_thread_id": reply.thread_id,
                "link_preview_options": {"is_disabled": True},
                "reply_parameters": {"message_id": reply_to, "allow_sending_without_reply": True}
                if reply_to
                else None,
                "reply_markup": buttons if index == last else None,
            }
            try:
                await self.api.call("sendMessage", chat_id=self.chat_for(target), **params)
            except ChatMigrated as exc:
                self._migrated[chat_of(target)] = exc.migrate_to
                log.info(
                    "telegram group became a supergroup", old=target.chat_id, new=exc.migrate_to
                )
                await self.api.call("sendMessage", chat_id=exc.migrate_to, **params)
            self._progress[key] = index + 1

    def _rating_buttons(self, target: ReplyTarget) -> dict[str, Any] | None:
        """👍/👎 under the answer's last part, when the answer came from a model."""
        if not self._config.rating_buttons or target.request_id is None:
            return None
        return {
            "inline_keyboard": [
                [
                    {"text": "👍", "callback_data": button_data(1, target.request_id)},
                    {"text": "👎", "callback_data": button_data(-1, target.request_id)},
                ]
            ]
        }

    async def _finish_draft(
        self,
        target: ReplyTarget,
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
        except PlatformError as exc:
            if "message is not modified" in str(exc):
                return True
            if bad_entities(exc):
                raise
            log.info("could not finish the draft; sending the answer anew", error=str(exc))
            return False
        return True
