"""A faithful fake of DingTalk for the robot channel, on loopback (PROTOCOLS §4).

- `POST /v1.0/oauth2/accessToken` (400 `invalidClientIdOrSecret` for a wrong pair),
- `POST /v1.0/gateway/connections/open` (401 `authFailed`; one-time tickets valid 90 s),
- a WebSocket gateway at `/connect?ticket=…` that pushes CALLBACK frames and SYSTEM pings,
  records acks, sends `disconnect` (closing the socket a moment later), drops or freezes
  connections, and pushes a frame again when its ack does not come within `ack_timeout`,
- session webhooks (`/robot/sendBySession?session=…`) that refuse after their expiry,
- the robot send APIs (`groupMessages/send`, `oToMessages/batchSend`) behind
  `x-acs-dingtalk-access-token`, recording what was sent.
- ActionCards (session webhook `msgtype: actionCard` with `btns`; robot API `sampleActionCard2`)
  and `press()`: a button whose `actionURL` is `dtmd://dingtalkclient/sendMessage?content=…`
  makes the client send `content` as the user's own message in that chat (pushed like any
  message); any other link would only open a page, so pressing it does nothing here.

Frames and acks follow the shapes the official `dingtalk-stream` SDK produces and parses
(tests/unit/test_dingtalk_fake.py runs the SDK against this fake).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import orjson
from aiohttp import web

from aibot.channels.dingtalk.verify import sign
from tests.fakes.dingtalk_files import DingtalkFiles
from tests.fakes.loopback import LoopbackServer

CLIENT_ID = "dingtestrobot0001xyz"
CLIENT_SECRET = "TestClientSecret-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL"
BOT_TOPIC = "/v1.0/im/bot/messages/get"
# The session webhook's answer once it expired; DingTalk's exact errcode is not documented [?].
WEBHOOK_EXPIRED = {"errcode": 300001, "errmsg": "session不存在或者已经过期"}
MSG_PARAM_LIMIT = 15_000  # bytes of msgParam refused as invalidParameter.msgParam.tooLong [3P]


def _error(status: int, code: str, message: str) -> web.Response:
    """The new OpenAPI's error shape: {requestid, code, message}."""
    return web.json_response(
        {"requestid": uuid.uuid4().hex.upper(), "code": code, "message": message}, status=status
    )


@dataclass
class Connection:
    ticket: str
    ws: web.WebSocketResponse
    request: web.Request
    opened_at: float
    frozen: bool = False
    closed: bool = False


@dataclass
class Pending:
    data: dict[str, Any]
    message_id: str
    deadline: float
    deliveries: int = 1


@dataclass(frozen=True)
class Ack:
    message_id: str
    code: int
    message: str
    data: str


@dataclass(frozen=True)
class Sent:
    """One message the robot sent: `via` is webhook, group or private."""

    via: str
    to: str
    msgtype: str
    text: str
    title: str | None = None
    at: list[str] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)  # an ActionCard's (title, URL)


class FakeDingtalk:
    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        ack_timeout: float = 3.0,
        disconnect_grace: float = 0.5,
        ticket_ttl: float = 90.0,
        token_ttl: int = 7200,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.ack_timeout = ack_timeout
        self.disconnect_grace = disconnect_grace
        self.ticket_ttl = ticket_ttl
        self.token_ttl = token_ttl
        self._server = LoopbackServer()
        self._tickets: dict[str, float] = {}
        self._tokens: dict[str, float] = {}
        self._sessions: dict[str, tuple[str, int]] = {}  # session -> (conversation, expiry ms)
        self._groups: set[str] = set()
        self._staff: set[str] = set()
        self._failures: dict[str, list[tuple[int, dict[str, Any]] | None]] = {}
        self._ids = itertools.count(1)
        self._redeliverer: asyncio.Task[None] | None = None
        self._closers: set[asyncio.Task[None]] = set()
        self.connections: list[Connection] = []
        self.opens: list[dict[str, Any]] = []
        self.tickets: list[str] = []
        self.pending: dict[str, Pending] = {}
        self.acks: list[Ack] = []
        self.pongs: list[Ack] = []
        self.bad_acks: list[str] = []
        self.redeliveries = 0
        self.token_requests = 0
        self.sent: list[Sent] = []
        self.refused: list[tuple[str, dict[str, Any]]] = []
        self.base_url = ""
        self.files = DingtalkFiles(self._authorised, self.client_id, lambda: self.base_url)

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
    @property
    def live(self) -> list[Connection]:
        return [c for c in self.connections if not c.closed]

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

    # -- the stream gateway ----------------------------------------------------------------
    def _send_frame(
        self, kind: str, topic: str, message_id: str, data: str, conn: Connection | None = None
    ) -> None:
        targets = [conn] if conn else [c for c in self.live if not c.frozen][-1:]
        frame = orjson.dumps(
            {
                "specVersion": "1.0",
                "type": kind,
                "headers": {
                    "appId": "fakeapp",
                    "connectionId": "conn",
                    "contentType": "application/json",
                    "messageId": message_id,
                    "time": str(int(time.time() * 1000)),
                    "topic": topic,
                },
                "data": data,
            }
        ).decode()
        for target in targets:
            task = asyncio.create_task(target.ws.send_str(frame))
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _close_later(self, conn: Connection) -> None:
        await asyncio.sleep(self.disconnect_grace)
        conn.closed = True
        with contextlib.suppress(Exception):
            await conn.ws.close()

    async def _redeliver(self) -> None:
        """An unacknowledged frame is pushed again, under a new messageId, to a live
        connection (DingTalk does not document whether the id is kept; dedupe on msgId)."""
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            if not [c for c in self.live if not c.frozen]:
                continue
            for old_id, item in list(self.pending.items()):
                if item.deadline > now:
                    continue
                del self.pending[old_id]
                new_id = f"frame-{next(self._ids)}"
                self.pending[new_id] = Pending(
                    item.data, new_id, now + self.ack_timeout, item.deliveries + 1
                )
                self.redeliveries += 1
                self._send_frame("CALLBACK", BOT_TOPIC, new_id, orjson.dumps(item.data).decode())

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        issued = self._tickets.pop(ticket, None)
        if issued is None or time.monotonic() - issued > self.ticket_ttl:
            return _error(401, "invalidTicket", "ticket is invalid or used")
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        conn = Connection(ticket, ws, request, time.monotonic())
        self.connections.append(conn)
        try:
            async for message in ws:
                if conn.frozen:
                    continue
                if message.type == aiohttp.WSMsgType.PING:
                    await ws.pong(message.data)
                elif message.type == aiohttp.WSMsgType.TEXT:
                    self._on_ack(message.data)
        finally:
            conn.closed = True
        return ws

    def _on_ack(self, raw: str) -> None:
        try:
            ack = orjson.loads(raw)
            headers = ack["headers"]
            record = Ack(
                str(headers["messageId"]),
                int(ack["code"]),
                str(ack.get("message", "")),
                ack["data"],
            )
            orjson.loads(record.data)  # data is itself a JSON string
            if headers.get("contentType") != "application/json" or not isinstance(ack["data"], str):
                raise ValueError("bad ack shape")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.bad_acks.append(raw)
            return
        if record.message_id.startswith("ping-"):
            self.pongs.append(record)
        elif record.message_id.startswith("disc-"):
            return
        else:
            self.acks.append(record)
            if record.code == 200:
                self.pending.pop(record.message_id, None)

    # -- OpenAPI ------------------------------------------------------------------------------
    async def _json(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return None
        return body if isinstance(body, dict) else None

    def _scripted(self, path: str) -> web.Response | None:
        queue = self._failures.get(path)
        scripted = queue.pop(0) if queue else None
        return None if scripted is None else web.json_response(scripted[1], status=scripted[0])

    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        body = await self._json(request)
        if body is None:
            return _error(400, "MissingBody", "body is mandatory for this action.")
        if body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
            return _error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
        token = uuid.uuid4().hex
        self._tokens[token] = time.monotonic() + self.token_ttl
        return web.json_response({"accessToken": token, "expireIn": self.token_ttl})

    async def _open(self, request: web.Request) -> web.Response:
        body = await self._json(request)
        if body is None:
            return _error(400, "MissingBody", "body is mandatory for this action.")
        self.opens.append(body)
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            return _error(401, "authFailed", "鉴权失败")
        subscriptions = body.get("subscriptions")
        if (
            not isinstance(subscriptions, list)
            or not subscriptions
            or not all(
                isinstance(s, dict)
                and s.get("type") in ("EVENT", "CALLBACK")
                and isinstance(s.get("topic"), str)
                for s in subscriptions
            )
        ):
            return _error(400, "invalidParameter", "subscriptions is invalid")
        ticket = uuid.uuid4().hex
        self._tickets[ticket] = time.monotonic()
        self.tickets.append(ticket)
        endpoint = self.base_url.replace("http://", "ws://") + "/connect"
        return web.json_response({"endpoint": endpoint, "ticket": ticket})

    async def _session_webhook(self, request: web.Request) -> web.Response:
        session = self._sessions.get(request.query.get("session", ""))
        body = await self._json(request)
        scripted = self._scripted("sendBySession")
        if scripted is not None:
            return scripted
        if session is None or session[1] < time.time() * 1000:
            self.refused.append(("webhook", body or {}))
            return web.json_response(WEBHOOK_EXPIRED)
        kind = (body or {}).get("msgtype")
        content = (body or {}).get(str(kind)) or {}
        text = content.get("content") if kind == "text" else content.get("text")
        buttons = [
            (str(b.get("title")), str(b.get("actionURL")))
            for b in content.get("btns") or ()
            if isinstance(b, dict) and b.get("title") and b.get("actionURL")
        ]
        if (
            kind not in ("text", "markdown", "actionCard")
            or not isinstance(text, str)
            or not text
            or (kind != "text" and not isinstance(content.get("title"), str))
            or (kind == "actionCard" and len(buttons) != len(content.get("btns") or [None]))
        ):
            return web.json_response({"errcode": 400105, "errmsg": "不支持的消息类型或内容为空"})
        at = ((body or {}).get("at") or {}).get("atUserIds") or []
        self.sent.append(
            Sent("webhook", session[0], str(kind), text, content.get("title"), at, buttons)
        )
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def _authorised(self, request: web.Request) -> bool:
        token = request.headers.get("x-acs-dingtalk-access-token", "")
        return self._tokens.get(token, 0.0) > time.monotonic()

    async def _robot_body(
        self, request: web.Request, path: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | web.Response:
        if not self._authorised(request):
            return _error(400, "InvalidAuthentication", "不合法的access_token")
        scripted = self._scripted(path)
        if scripted is not None:
            return scripted
        body = await self._json(request)
        if body is None:
            return _error(400, "MissingBody", "body is mandatory for this action.")
        if body.get("robotCode") != self.client_id:
            return _error(400, "invalidParameter.robotCode.notExsit", "robot not exist")
        if len(str(body.get("msgParam", "")).encode()) > MSG_PARAM_LIMIT:
            return _error(400, "invalidParameter.msgParam.tooLong", "msgParam is too long")
        try:
            param = orjson.loads(body["msgParam"])
        except (KeyError, TypeError, orjson.JSONDecodeError):
            return _error(400, "invalidParameter.msgParam.invalid", "msgParam is invalid")
        key = body.get("msgKey")
        if key == "sampleText" and isinstance(param.get("content"), str):
            return body, param
        if (
            key in ("sampleMarkdown", "sampleActionCard2")
            and isinstance(param.get("text"), str)
            and isinstance(param.get("title"), str)
            and (key == "sampleMarkdown" or _card_buttons(param))
        ):
            return body, param
        return _error(400, "invalidParameter.msgKey.invalid", "msgKey or msgParam is invalid")

    async def _group_send(self, request: web.Request) -> web.Response:
        checked = await self._robot_body(request, "groupMessages/send")
        if isinstance(checked, web.Response):
            return checked
        body, param = checked
        conversation = body.get("openConversationId")
        if conversation not in self._groups:
            return _error(400, "invalid.openConversationId", "openConversationId is invalid")
        self.sent.append(
            Sent(
                "group",
                str(conversation),
                body["msgKey"],
                param.get("content") or param["text"],
                param.get("title"),
            )
        )
        return web.json_response({"processQueryKey": uuid.uuid4().hex})

    async def _private_send(self, request: web.Request) -> web.Response:
        checked = await self._robot_body(request, "oToMessages/batchSend")
        if isinstance(checked, web.Response):
            return checked
        body, param = checked
        users = body.get("userIds")
        if not isinstance(users, list) or not users:
            return _error(400, "invalidParameter.userIds.empty", "userIds is empty")
        invalid = [u for u in users if u not in self._staff]
        for user in users:
            if user not in invalid:
                self.sent.append(
                    Sent(
                        "private",
                        str(user),
                        body["msgKey"],
                        param.get("content") or param["text"],
                        param.get("title"),
                        buttons=_card_buttons(param),
                    )
                )
        return web.json_response(
            {
                "processQueryKey": uuid.uuid4().hex,
                "invalidStaffIdList": invalid,
                "flowControlledStaffIdList": [],
            }
        )


def _card_buttons(param: dict[str, Any]) -> list[tuple[str, str]]:
    """The (title, URL) buttons of a `sampleActionCard2`…`6` msgParam, in order."""
    found: list[tuple[str, str]] = []
    for n in itertools.count(1):
        title, url = param.get(f"actionTitle{n}"), param.get(f"actionURL{n}")
        if not isinstance(title, str) or not isinstance(url, str):
            return found
        found.append((title, url))
    return found
