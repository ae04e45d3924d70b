"""``FakeDingtalk``: lifecycle and what tests do (push messages, press buttons, disconnect)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
from aiohttp import web

from aibot.channels.dingtalk.verify import sign
from tests.fakes.dingtalk_api.openapi import _OpenApi
from tests.fakes.dingtalk_api.records import BOT_TOPIC, Pending, Sent


class FakeDingtalk(_OpenApi):
    """The fake DingTalk (see the package docstring)."""

    async def __aenter__(self) -> FakeDingtalk:
        app = web.Application()
        app.router.add_post("/v1.0/oauth2/accessToken", self._token)
        app.router.add_post("/v1.0/gateway/connections/open", self._open)
        app.router.add_get("/connect", self._connect)
        app.router.add_post("/robot/sendBySession", self._session_webhook)
        app.router.add_post("/v1.0/robot/groupMessages/send", self._group_send)
        app.router.add_post("/v1.0/robot/oToMessages/batchSend", self._private_send)
        app.router.add_post("/v1.0/robot/messageFiles/download", self.files.download_link)
        app.router.add_get("/dtfiles/{token}", self.files.download)
        self.base_url = await self._server.start(app)
        self._redeliverer = asyncio.create_task(self._redeliver())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._redeliverer is not None:
            self._redeliverer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._redeliverer
        for conn in self.live:
            with contextlib.suppress(Exception):
                await conn.ws.close()
        await self._server.stop()

    # -- what tests do ----------------------------------------------------------------------
    def message(
        self,
        text: str,
        *,
        group: bool = False,
        staff: str | None = "manager123",
        at: bool = True,
        msg_id: str | None = None,
        webhook_ttl: float = 5400.0,
        conversation: str | None = None,
    ) -> dict[str, Any]:
        """A robot message as DingTalk sends it (pushed with `push`, or POSTed in HTTP mode)."""
        now = int(time.time() * 1000)
        sender = staff or "external"
        conversation = conversation or (f"cidGROUP{sender}==" if group else f"cid1to1{sender}==")
        session = uuid.uuid4().hex
        self._sessions[session] = (conversation, now + int(webhook_ttl * 1000))
        if group:
            self._groups.add(conversation)
        if staff:
            self._staff.add(staff)
        data: dict[str, Any] = {
            "conversationId": conversation,
            "conversationType": "2" if group else "1",
            "chatbotCorpId": "dingcorp",
            "chatbotUserId": "$:LWCP_v1:$bot",
            "msgId": msg_id or f"msg{uuid.uuid4().hex[:16]}",
            "senderNick": "Ann",
            "isAdmin": False,
            "senderId": f"$:LWCP_v1:${sender}",
            "sessionWebhook": f"{self.base_url}/robot/sendBySession?session={session}",
            "sessionWebhookExpiredTime": now + int(webhook_ttl * 1000),
            "createAt": now,
            "senderCorpId": "dingcorp",
            "robotCode": self.client_id,
            "msgtype": "text",
            "text": {"content": text},
        }
        if staff:
            data["senderStaffId"] = staff
        if group:
            data.update(
                conversationTitle="Team", isInAtList=at, atUsers=[{"dingtalkId": "$:LWCP_v1:$bot"}]
            )
        return data

    def push(self, data: dict[str, Any]) -> str:
        """Pushes a robot message as a CALLBACK frame; returns the frame's messageId."""
        message_id = f"frame-{next(self._ids)}"
        self.pending[message_id] = Pending(data, message_id, time.monotonic() + self.ack_timeout)
        self._send_frame("CALLBACK", BOT_TOPIC, message_id, orjson.dumps(data).decode())
        return message_id

    def say(self, text: str, **options: Any) -> dict[str, Any]:
        data = self.message(text, **options)
        self.push(data)
        return data

    def press(self, sent: Sent, button: int, staff: str = "manager123") -> dict[str, Any]:
        """`staff` presses button `button` of an ActionCard in their one-to-one chat: a
        `dtmd://dingtalkclient/sendMessage` link sends its `content` as their message."""
        link = urlsplit(sent.buttons[button][1])
        content = parse_qs(link.query).get("content")
        if (link.scheme, link.netloc, link.path) != ("dtmd", "dingtalkclient", "/sendMessage"):
            raise ValueError(f"{link.geturl()} opens a page; it sends nothing")
        if not content:
            raise ValueError("a sendMessage link without content sends nothing")
        return self.say(content[0], staff=staff)

    def push_frame(self, kind: str, topic: str, data: dict[str, Any]) -> str:
        """Any other frame (an EVENT, a callback of another topic); returns its messageId."""
        message_id = f"{kind.lower()}-{next(self._ids)}"
        self._send_frame(kind, topic, message_id, orjson.dumps(data).decode())
        return message_id

    def ping(self) -> str:
        opaque = uuid.uuid4().hex[:8]
        self._send_frame(
            "SYSTEM", "ping", f"ping-{next(self._ids)}", orjson.dumps({"opaque": opaque}).decode()
        )
        return opaque

    def disconnect(self) -> None:
        """DingTalk moving the connection: `disconnect`, then the socket closes."""
        for conn in self.live:
            self._send_frame(
                "SYSTEM",
                "disconnect",
                f"disc-{next(self._ids)}",
                orjson.dumps({"reason": "gateway restart"}).decode(),
                conn,
            )
            task = asyncio.create_task(self._close_later(conn))
            self._closers.add(task)
            task.add_done_callback(self._closers.discard)

    def drop(self) -> None:
        """Network loss: the TCP connections are cut without a closing handshake."""
        for conn in self.live:
            conn.closed = True
            if conn.request.transport is not None:
                conn.request.transport.abort()

    def freeze(self) -> None:
        """Half-dead connections: no pongs, no frames; only a keep-alive can notice."""
        for conn in self.live:
            conn.frozen = True

    def revoke_tokens(self) -> None:
        self._tokens.clear()

    def fail_next(
        self, path: str, status: int, body: dict[str, Any], *, times: int = 1, after: int = 0
    ) -> None:
        """The calls of `path` after the next `after` answer `status`/`body`, `times` times."""
        self._failures.setdefault(path, []).extend([None] * after + [(status, body)] * times)

    def sent_to(self, conversation_or_staff: str) -> list[Sent]:
        return [s for s in self.sent if s.to == conversation_or_staff]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"fake DingTalk: condition not met in {timeout}s; "
                    f"sent={self.sent} acks={self.acks}"
                )
            await asyncio.sleep(0.02)

    async def post_http(
        self,
        url: str,
        data: dict[str, Any],
        *,
        secret: str | None = None,
        timestamp: str | None = None,
        signature: str | None = None,
    ) -> int:
        """DingTalk's HTTP-mode delivery of `data` to `url`, signed with the app secret."""
        timestamp = timestamp or str(int(time.time() * 1000))
        headers = {
            "timestamp": timestamp,
            "sign": signature or sign(timestamp, secret or self.client_secret),
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                url,
                data=orjson.dumps(data),
                headers={**headers, "Content-Type": "application/json"},
            ) as response,
        ):
            return response.status
