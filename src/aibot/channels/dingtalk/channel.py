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
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, Response

from aibot.channels.base import ChannelContext
from aibot.channels.dingtalk.client import DingtalkApi, DingtalkError
from aibot.channels.dingtalk.connection import StreamClient
from aibot.channels.dingtalk.inbound import (
    CHANNEL,
    GROUP,
    PART_LIMIT,
    read_message,
    robot_message,
    webhook_body,
)
from aibot.channels.dingtalk.verify import verify
from aibot.channels.text import split_plain
from aibot.config import DingtalkChannelConfig
from aibot.core.errors import SendError
from aibot.core.messages import Inbound, Outbound
from aibot.core.pipeline import DeltaSink

log = structlog.get_logger("aibot.dingtalk")

WEBHOOK_PATH = "/dingtalk/webhook"
GROUP_SEND = "/v1.0/robot/groupMessages/send"
PRIVATE_SEND = "/v1.0/robot/oToMessages/batchSend"
WEBHOOK_MARGIN_MS = 30_000  # a session webhook this close to expiry is not worth the race
FLOW_CONTROL_WAIT = 60.0


class DingtalkChannel:
    name = CHANNEL

    def __init__(self, config: DingtalkChannelConfig, context: ChannelContext) -> None:
        self._config = config
        self._inbox = context.inbox
        self.api = DingtalkApi(
            config.client_id, config.client_secret.get_secret_value(), config.api_base
        )
        self.stream = (
            StreamClient(self.api, self.receive, keepalive=config.keepalive)
            if config.mode == "stream"
            else None
        )
        self._runner: asyncio.Task[None] | None = None
        self._progress: dict[int, int] = {}  # outbox id -> parts already delivered
        self.last_error: str | None = None

    @property
    def exclusive(self) -> bool:
        return self.stream is not None

    def status(self) -> dict[str, Any]:
        if self.stream is not None:
            return {"ok": self.stream.connected, "mode": "stream", "error": self.stream.last_error}
        return {"ok": self.last_error is None, "mode": "http", "error": self.last_error}

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Stream mode connects in the background (failures show in `status`); HTTP mode
        checks the credentials once, since replies will need the token."""
        if self.stream is not None:
            self._runner = asyncio.create_task(self.stream.run(), name="dingtalk-stream")
            return
        try:
            await self.api.access_token()
        except DingtalkError as exc:
            self.last_error = (
                f"access token refused: {exc} (check channels.dingtalk.client_id / client_secret)"
            )
            log.error("dingtalk credentials refused", error=self.last_error)

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        if self.stream is not None:
            await self.stream.close()

    async def close(self) -> None:
        await self.api.close()

    # -- receiving ------------------------------------------------------------------------
    async def receive(self, data: dict[str, Any]) -> None:
        """Commits one robot message to the inbox; raises if the store refused it."""
        inbound = read_message(data)
        if inbound is not None:
            await self._inbox.accept(inbound)

    def router(self) -> APIRouter | None:
        if self._config.mode != "http":
            return None
        router = APIRouter(include_in_schema=False)
        secret = self._config.client_secret.get_secret_value()
        max_age_ms = int(self._config.signature_max_age * 1000)

        @router.post(WEBHOOK_PATH)
        async def webhook(request: Request) -> Response:
            if not verify(
                request.headers.get("timestamp", ""),
                request.headers.get("sign", ""),
                secret,
                now_ms=int(time.time() * 1000),
                max_age_ms=max_age_ms,
            ):
                return Response(status_code=401)
            try:
                data = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                return Response(status_code=400)
            if not isinstance(data, dict):
                return Response(status_code=400)
            try:
                await self.receive(data)
            except Exception:
                # Not stored: DingTalk retries a request it did not get a 200 for.
                log.exception("dingtalk message not stored")
                return Response(status_code=503)
            return Response(b"{}", media_type="application/json")

        return router

    # -- sending --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def presence(self, inbound: Inbound) -> AsyncIterator[DeltaSink | None]:
        """DingTalk robots have no "typing…" indicator."""
        yield None

    async def send(self, outbound: Outbound) -> None:
        key = outbound.outbox_id or 0
        parts = split_plain(outbound.text, PART_LIMIT)
        for index in range(self._progress.get(key, 0), len(parts)):
            await self._send_part(outbound.target, parts[index])
            self._progress[key] = index + 1
        self._progress.pop(key, None)

    async def _send_part(self, target: dict[str, Any], text: str) -> None:
        webhook = target.get("session_webhook")
        group = target.get("conversation_type") == GROUP
        if (
            webhook
            and int(target.get("webhook_expires_ms") or 0) > time.time() * 1000 + WEBHOOK_MARGIN_MS
        ):
            body = webhook_body(
                text, self._config.reply_format, mention=target.get("staff_id") if group else None
            )
            try:
                await self.api.post_webhook(str(webhook), body)
                return
            except DingtalkError as exc:
                if exc.retry_after is not None or exc.status is None or exc.status >= 500:
                    # Throttled, or it may have arrived: retry this way, never send it twice.
                    raise SendError(str(exc), retry_after=exc.retry_after) from None
                log.info("session webhook refused; sending through the robot API", error=str(exc))
        await self._send_openapi(target, text, group)

    async def _send_openapi(self, target: dict[str, Any], text: str, group: bool) -> None:
        message = robot_message(text, self._config.reply_format)
        if group:
            path, body = (
                GROUP_SEND,
                {
                    "robotCode": self._config.robot,
                    "openConversationId": target["conversation_id"],
                    **message,
                },
            )
        else:
            staff = target.get("staff_id")
            if not staff:
                raise SendError(
                    "the session webhook expired and the sender has no staff id "
                    "(an external user): the robot API cannot reach them",
                    permanent=True,
                )
            path, body = (
                PRIVATE_SEND,
                {"robotCode": self._config.robot, "userIds": [staff], **message},
            )
        try:
            answer = await self.api.call(path, body)
        except DingtalkError as exc:
            raise SendError(
                str(exc),
                permanent=not exc.retryable,
                retry_after=exc.retry_after or (FLOW_CONTROL_WAIT if exc.throttled else None),
            ) from None
        if isinstance(answer, dict) and answer.get("flowControlledStaffIdList"):
            raise SendError("robot send flow-controlled", retry_after=FLOW_CONTROL_WAIT)
        if isinstance(answer, dict) and answer.get("invalidStaffIdList"):
            raise SendError(f"invalid staff ids: {answer['invalidStaffIdList']}", permanent=True)
