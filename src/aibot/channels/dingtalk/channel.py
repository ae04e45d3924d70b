"""The DingTalk channel: robot messages in (Stream or HTTP mode), answers out.

Receiving: a message is committed to the inbox (unique on msgId, so a redelivery is dropped)
before DingTalk is told it arrived: the Stream ack, or the HTTP 200, follows the commit.

Sending: through the message's `sessionWebhook` while it is valid (about 90 minutes, no token
needed), else through the robot OpenAPI (one-to-one by staff id, groups by
openConversationId) with the app's access token. Long answers are sent in parts, and the parts
already delivered are remembered per outbox row so a retry does not repeat them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import structlog

from aibot.channels.base import ChannelContext, Problem, error_text
from aibot.channels.dingtalk.approval import robot_card, webhook_card
from aibot.channels.dingtalk.client import DingtalkApi, throttled
from aibot.channels.dingtalk.connection import StreamClient
from aibot.channels.dingtalk.format import robot_message, split, webhook_body
from aibot.channels.dingtalk.inbound import CHANNEL, DingtalkReply, read_message
from aibot.channels.dingtalk.media import DingtalkMedia
from aibot.channels.dingtalk.verify import trusted_webhook
from aibot.channels.errors import PlatformError
from aibot.config import DingtalkChannelConfig
from aibot.core.errors import SendError
from aibot.core.media import MediaFetcher
from aibot.core.messages import Inbound, Outbound
from aibot.core.pipeline import DeltaSink
from aibot.i18n import N_

if TYPE_CHECKING:
    from fastapi import APIRouter

log = structlog.get_logger("aibot.dingtalk")

GROUP_SEND = "/v1.0/robot/groupMessages/send"
PRIVATE_SEND = "/v1.0/robot/oToMessages/batchSend"
WEBHOOK_MARGIN_MS = 30_000  # a session webhook this close to expiry is not worth the race
FLOW_CONTROL_WAIT = 60.0


class DingtalkChannel:
    name = CHANNEL

    def __init__(self, config: DingtalkChannelConfig, context: ChannelContext) -> None:
        self._config = config
        self._inbox = context.inbox
        self._clock = context.clock
        self.api = DingtalkApi(
            config.client_id,
            config.client_secret.get_secret_value(),
            config.api_base,
            clock=context.clock.monotonic,
        )
        self._media = DingtalkMedia(self.api, config.robot)
        self.media: MediaFetcher | None = self._media
        self.stream = (
            StreamClient(
                self.api, self.receive, keepalive=config.keepalive, clock=context.clock.monotonic
            )
            if config.mode == "stream"
            else None
        )
        self._runner: asyncio.Task[None] | None = None
        self._progress: dict[int, int] = {}  # outbox id -> parts already delivered
        self.last_error: Problem | None = None

    @property
    def exclusive(self) -> bool:
        return self.stream is not None

    def status(self, language: str) -> dict[str, Any]:
        if self.stream is not None:
            error = error_text(self.stream.last_error, language)
            return {"ok": self.stream.connected, "mode": "stream", "error": error}
        error = error_text(self.last_error, language)
        return {"ok": self.last_error is None, "mode": "http", "error": error}

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Stream mode connects in the background (failures show in `status`); HTTP mode
        checks the credentials once, since replies will need the token."""
        if self.stream is not None:
            self._runner = asyncio.create_task(self.stream.run(), name="dingtalk-stream")
            return
        try:
            await self.api.access_token()
        except PlatformError as exc:
            self.last_error = Problem(
                N_(
                    "access token refused: {error} "
                    "(check channels.dingtalk.client_id / client_secret)"
                ),
                {"error": str(exc)},
            )
            log.error("dingtalk credentials refused", error=str(self.last_error))

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self.stream is not None:
            await self.stream.close()

    async def close(self) -> None:
        await self.api.close()
        await self._media.close()

    # -- receiving ------------------------------------------------------------------------
    async def receive(self, data: dict[str, Any]) -> None:
        """Commits one robot message to the inbox; raises if the store refused it."""
        inbound = read_message(data, clock=self._clock.now)
        if inbound is not None:
            await self._inbox.accept(inbound)

    def router(self) -> APIRouter | None:
        if self._config.mode != "http":
            return None
        from aibot.channels.dingtalk.webhook import build_router  # FastAPI: the full app's build

        return build_router(
            self._config.client_secret.get_secret_value(),
            self._config.signature_max_age,
            self._clock.now,
            self.receive,
        )

    # -- sending --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def presence(self, inbound: Inbound) -> AsyncIterator[DeltaSink | None]:
        """DingTalk robots have no "typing…" indicator."""
        yield None

    async def send(self, outbound: Outbound) -> None:
        """Sends the answer in parts; a tool's question in a one-to-one chat as an ActionCard
        whose buttons type `/approve` or `/deny` for the user (`approval.py`)."""
        key = outbound.outbox_id or 0
        to = DingtalkReply.of(outbound.target)
        if outbound.target.approval is not None and not to.group:
            locale = outbound.target.locale
            parts = [(webhook_card(outbound.text, locale), robot_card(outbound.text, locale))]
        else:
            parts = [self._message(to, text) for text in split(outbound.text)]
        for index in range(self._progress.get(key, 0), len(parts)):
            await self._send_part(to, *parts[index])
            self._progress[key] = index + 1
        self._progress.pop(key, None)

    def _message(self, to: DingtalkReply, text: str) -> tuple[dict[str, Any], dict[str, str]]:
        """A part as the session webhook's body and as the robot API's message."""
        kind = self._config.reply_format
        return (
            webhook_body(text, kind, mention=to.staff_id if to.group else None),
            robot_message(text, kind),
        )

    async def _send_part(
        self, to: DingtalkReply, body: dict[str, Any], message: dict[str, str]
    ) -> None:
        if (
            to.session_webhook
            and to.webhook_expires_ms > self._clock.now() * 1000 + WEBHOOK_MARGIN_MS
            and self._trusted(to.session_webhook)
        ):
            try:
                await self.api.post_webhook(to.session_webhook, body)
                return
            except PlatformError as exc:
                if exc.retry_after is not None or exc.status is None or exc.status >= 500:
                    # Throttled, or it may have arrived: retry this way, never send it twice.
                    raise SendError(str(exc), retry_after=exc.retry_after) from None
                log.info("session webhook refused; sending through the robot API", error=str(exc))
        await self._send_openapi(to, message)

    def _trusted(self, url: str) -> bool:
        """Only DingTalk's own hosts get an answer (`webhook_hosts`): a link from a forged or
        replayed request must not make the gateway POST to an address of the sender's choice."""
        if trusted_webhook(url, self._config.webhook_hosts, self._config.api_base):
            return True
        log.warning("dingtalk reply link outside webhook_hosts ignored; using the robot API")
        return False

    async def _send_openapi(self, to: DingtalkReply, message: dict[str, str]) -> None:
        body: dict[str, Any]
        if to.group:
            path, body = (
                GROUP_SEND,
                {
                    "robotCode": self._config.robot,
                    "openConversationId": to.conversation_id,
                    **message,
                },
            )
        else:
            if not to.staff_id:
                raise SendError(
                    "the session webhook expired and the sender has no staff id "
                    "(an external user): the robot API cannot reach them",
                    permanent=True,
                )
            path, body = (
                PRIVATE_SEND,
                {"robotCode": self._config.robot, "userIds": [to.staff_id], **message},
            )
        try:
            answer = await self.api.call(path, body)
        except PlatformError as exc:
            if not exc.retry_after:
                exc.retry_after = FLOW_CONTROL_WAIT if throttled(exc) else None
            raise
        if isinstance(answer, dict) and answer.get("flowControlledStaffIdList"):
            raise SendError("robot send flow-controlled", retry_after=FLOW_CONTROL_WAIT)
        if isinstance(answer, dict) and answer.get("invalidStaffIdList"):
            raise SendError(f"invalid staff ids: {answer['invalidStaffIdList']}", permanent=True)
