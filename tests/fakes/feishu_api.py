"""A fake Feishu/Lark open platform on loopback: tokens, messages, and an event pusher.

Why a fake: the Feishu channel must be tested over real sockets against the real wire format
(double-encoded `content`, body `code`s, encrypted and signed event pushes with re-delivery)
without touching open.feishu.cn. lark-oapi is the oracle that keeps it honest
(`tests/unit/test_feishu_crypto.py`: its decryptor reads our events, its dispatcher accepts what
this fake pushes). Facts are from PROTOCOLS.md §1; values marked [?] there are guesses made
configurable here.

What it serves:
- `POST /open-apis/auth/v3/tenant_access_token/internal`: `expire` in seconds; the same token
  while more than 30 min remain, a new one below that; `revoke_tokens()` makes the next call
  answer 99991663.
- `GET /open-apis/bot/v3/info`; `POST /callback/ws/endpoint` (long-connection bootstrap: refuses
  wrong credentials with 403; the pbbp2 WebSocket behind it is not faked).
- `POST /open-apis/im/v1/messages?receive_id_type=…`, `POST …/{id}/reply`, `PUT …/{id}`
  (text/post, at most 20 edits), `PATCH …/{id}` (interactive only), `DELETE …/{id}` (recall).
  `content` must be a JSON string valid for `msg_type` (230001; a bad card 230099); bodies over
  150 KB (text) / 30 KB (post, card) get 230025; more than `qps` calls per chat in one second get
  HTTP 429 + 99991400 + `x-ogw-ratelimit-reset`; a `uuid` seen within 1 h returns the first
  answer and sends nothing.
- The event pusher POSTs v2 envelopes to `webhook_url` (encrypted and signed when an Encrypt Key
  is set), waits at most `deadline` (3 s) for a 200, and re-delivers on `retry_schedule`.
- A card button press (`card_action`) is a `card.action.trigger` callback POSTed once (no
  re-delivery: a callback is answered within 3 s or fails) to the same URL, signed like events;
  the answer's toast is returned and its `raw` card redraws the pressed card, as the client
  does (the new callback's response shape: `{"toast": {type, content, i18n}, "card": {"type":
  "raw", "data": <card>}}`, lark-oapi `P2CardActionTriggerResponse`).

Simplifications: one tenant; every chat accepts the bot; no per-app (50/s) limit; the recall
window and edit window are unlimited.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import aiohttp
import orjson
from aiohttp import web

from aibot.channels.feishu.verify import encrypt, signature
from tests.fakes.feishu_files import FeishuFiles
from tests.fakes.loopback import LoopbackServer

JSON = dict[str, Any]

TOKEN_LIFETIME = 7200
REISSUE_BELOW = 1800
UUID_TTL = 3600
TEXT_LIMIT = 150 * 1024
RICH_LIMIT = 30 * 1024
MAX_EDITS = 20
POST_TAGS = {"text", "a", "at", "img", "media", "emotion", "hr", "code_block", "md"}
CARD_TAGS = {
    "markdown",
    "div",
    "hr",
    "img",
    "note",
    "column_set",
    "action",
    "button",
    "plain_text",
    "lark_md",
}
RECEIVE_ID_TYPES = {"open_id", "union_id", "user_id", "email", "chat_id"}

BAD_PARAM = (230001, "Your request contains an invalid request parameter.")
CARD_FAILED = (230099, "Failed to create card content.")
TOO_LONG = (230025, "The length of the message content reaches its limit.")
WITHDRAWN = (230011, "The message was withdrawn.")
NOT_FOUND = (231003, "The message is not found, maybe not exist or deleted.")
EDIT_LIMIT = (230072, "The message has reached the number of times it can be edited.")  # [?]
FREQUENCY = (99991400, "request trigger frequency limit")
NO_TOKEN = (
    99991661,
    "Missing access token for authorization. Please make a request with token attached.",
)
BAD_TOKEN = (
    99991663,
    "Invalid access token for authorization. Please make a request with token attached.",
)
FIELD_INVALID = (99992402, "field validation failed")
BAD_APP_ID = (10003, "invalid param")  # [?]
BAD_SECRET = (10014, "app secret invalid")  # [?]


@dataclass(frozen=True, slots=True)
class Fail:
    """A scripted answer for the next call of one operation."""

    code: int
    msg: str
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(cls, reset: int = 1) -> Fail:
        return cls(
            *FREQUENCY,
            status=429,
            headers={"x-ogw-ratelimit-limit": "5", "x-ogw-ratelimit-reset": str(reset)},
        )

    @classmethod
    def frequency(cls) -> Fail:
        return cls(230020, "This operation triggers the frequency limit.", status=400)

    @classmethod
    def card_error(cls) -> Fail:
        return cls(*CARD_FAILED)


class LoseResponse:
    """Process the call, then cut the connection: the caller never learns it succeeded."""


@dataclass(slots=True)
class Call:
    op: str
    path: str
    body: JSON
    at: float
    status: int = 200
    code: int = 0


@dataclass(slots=True)
class Delivery:
    event_id: str
    message_id: str
    attempt: int
    status: int | None
    elapsed: float


@dataclass(slots=True)
class Message:
    message_id: str
    chat_id: str
    msg_type: str
    content: JSON
    sender: str  # "bot" or a user's open_id
    parent_id: str | None = None
    thread: bool = False
    uuid: str | None = None
    deleted: bool = False
    edits: int = 0
    patches: int = 0

    @property
    def text(self) -> str:
        """The visible words, whatever the format (for assertions)."""
        if self.msg_type == "text":
            return str(self.content.get("text", ""))
        if self.msg_type == "post":
            post: JSON = next(iter(self.content.values()), {})
            return "\n".join(
                "".join(str(e.get("text", "")) for e in paragraph)
                for paragraph in post.get("content", [])
            )
        if self.msg_type == "interactive":
            elements = (self.content.get("body") or self.content).get("elements", [])
            return "\n".join(
                str(e.get("content", "")) for e in elements if e.get("tag") == "markdown"
            )
        return ""  # images, files: no words

    @property
    def buttons(self) -> list[JSON]:
        """The callback values of the card's buttons (in column sets too), in order."""
        if self.msg_type != "interactive":
            return []
        found: list[JSON] = []

        def walk(elements: list[JSON]) -> None:
            for element in elements:
                if element.get("tag") == "button":
                    found.extend(
                        b.get("value", {})
                        for b in element.get("behaviors", [])
                        if b.get("type") == "callback"
                    )
                for column in element.get("columns", []):
                    walk(column.get("elements", []))

        walk((self.content.get("body") or self.content).get("elements", []))
        return found
        return ""


class Rejection(Exception):
    def __init__(
        self, status: int, code: int, msg: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


class FakeFeishu:
    def __init__(
        self,
        *,
        app_id: str = "cli_test",
        app_secret: str = "app-secret-123",  # noqa: S107 - a test value
        verification_token: str = "vtoken123",  # noqa: S107 - a test value
        encrypt_key: str | None = None,
        bot_open_id: str = "ou_bot",
        bot_name: str = "ai-bot test",
        qps: int = 5,
        deadline: float = 3.0,
        retry_schedule: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0),
    ) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.verification_token, self.encrypt_key = verification_token, encrypt_key
        self.bot_open_id, self.bot_name = bot_open_id, bot_name
        self.qps, self.deadline, self.retry_schedule = qps, deadline, retry_schedule
        self.webhook_url: str | None = None
        self.token_lifetime = TOKEN_LIFETIME
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.token_requests = 0
        self.calls: list[Call] = []
        self.messages: dict[str, Message] = {}
        self.card_updates: list[str] = []  # cards redrawn by the answer to a press
        self.deliveries: list[Delivery] = []
        self._uuids: dict[str, tuple[float, JSON]] = {}
        self._script: dict[str, deque[Fail | LoseResponse]] = {}
        self._recent: dict[str, deque[float]] = {}
        self._pushes: set[asyncio.Task[None]] = set()
        self._server = LoopbackServer()
        self.clock_offset = 0.0  # advance() moves the fake's clock (token expiry)
        self.files = FeishuFiles(
            self._authorise,
            lambda mid: self.messages[mid].content if mid in self.messages else None,
        )

    # -- lifecycle ------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/open-apis/auth/v3/tenant_access_token/internal", self._token)
        app.router.add_get("/open-apis/bot/v3/info", self._bot_info)
        app.router.add_post("/callback/ws/endpoint", self._ws_endpoint)
        app.router.add_post("/open-apis/im/v1/messages", self._create)
        app.router.add_post("/open-apis/im/v1/messages/{id}/reply", self._reply)
        app.router.add_put("/open-apis/im/v1/messages/{id}", self._update)
        app.router.add_patch("/open-apis/im/v1/messages/{id}", self._patch)
        app.router.add_delete("/open-apis/im/v1/messages/{id}", self._delete)
        app.router.add_get("/open-apis/im/v1/messages/{id}/resources/{key}", self.files.download)
        await self._server.start(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in list(self._pushes):
            task.cancel()
        await asyncio.gather(*self._pushes, return_exceptions=True)
        await self._server.stop()

    @property
    def base_url(self) -> str:
        return self._server.base_url

    # -- scripting and inspection ---------------------------------------------------------
    def script(self, op: str, *answers: Fail | LoseResponse) -> None:
        """Queues answers for the next calls of `op`: reply, create, patch, update, delete."""
        self._script.setdefault(op, deque()).extend(answers)

    def now(self) -> float:
        return time.monotonic() + self.clock_offset

    def advance(self, seconds: float) -> None:
        self.clock_offset += seconds

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def bot_messages(self, chat_id: str) -> list[Message]:
        return [
            m
            for m in self.messages.values()
            if m.sender == "bot" and m.chat_id == chat_id and not m.deleted
        ]

    def texts(self, chat_id: str) -> list[str]:
        return [m.text for m in self.bot_messages(chat_id)]

    def ops(self, op: str) -> list[Call]:
        return [c for c in self.calls if c.op == op]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.02)
        return value

    async def wait_texts(self, chat_id: str, count: int = 1, timeout: float = 10.0) -> list[str]:
        await self.wait_for(lambda: len(self.texts(chat_id)) >= count, timeout)
        return self.texts(chat_id)

    # -- events -----------------------------------------------------------------------------
    def user_message(
        self,
        chat_id: str,
        text: str = "",
        *,
        chat_type: str = "p2p",
        user: str = "ou_user1",
        mentions: list[tuple[str, str]] | None = None,
        message_type: str = "text",
        content: JSON | None = None,
        thread_id: str | None = None,
        push: bool = True,
    ) -> JSON:
        """A user writes in `chat_id`; the event is pushed (and re-pushed) to `webhook_url`
        unless `push` is False (the message is then only known, e.g. to be replied to).

        `mentions` are (open_id, name) pairs, referred to in `text` as @_user_1, @_user_2, ….
        """
        message_id = f"om_{secrets.token_hex(16)}"
        body = content if content is not None else {"text": text}
        self.messages[message_id] = Message(message_id, chat_id, message_type, body, user)
        message: JSON = {
            "message_id": message_id,
            "create_time": str(int(time.time() * 1000)),
            "update_time": str(int(time.time() * 1000)),
            "chat_id": chat_id,
            "chat_type": chat_type,
            "message_type": message_type,
            "content": orjson.dumps(body).decode(),
            "mentions": [
                {
                    "key": f"@_user_{n}",
                    "id": {"union_id": f"on_{oid}", "user_id": "", "open_id": oid},
                    "name": name,
                    "tenant_key": "tk_test",
                }
                for n, (oid, name) in enumerate(mentions or [], 1)
            ],
        }
        if thread_id:
            message["thread_id"] = thread_id
        event = {
            "sender": {
                "sender_id": {"union_id": f"on_{user}", "user_id": "", "open_id": user},
                "sender_type": "user",
                "tenant_key": "tk_test",
            },
            "message": message,
        }
        envelope = self.envelope(event)
        if push:
            self.push(envelope)
        return envelope

    def envelope(self, event: JSON, event_type: str = "im.message.receive_v1") -> JSON:
        return {
            "schema": "2.0",
            "header": {
                "event_id": secrets.token_hex(16),
                "event_type": event_type,
                "create_time": str(int(time.time() * 1000)),
                "token": self.verification_token,
                "app_id": self.app_id,
                "tenant_key": "tk_test",
            },
            "event": event,
        }

    def resend(self, envelope: JSON) -> JSON:
        """Feishu sometimes pushes one message again under a new event_id."""
        again = {**envelope, "header": {**envelope["header"], "event_id": secrets.token_hex(16)}}
        self.push(again)
        return again

    def push(self, envelope: JSON) -> None:
        task = asyncio.create_task(self._deliver(envelope))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    def signed_request(
        self, payload: JSON, *, timestamp: float | None = None, sign: bool = True
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Feishu would POST for `payload`."""
        plain = orjson.dumps(payload)
        headers = {"Content-Type": "application/json"}
        if not self.encrypt_key:
            return plain, headers
        body = orjson.dumps({"encrypt": encrypt(self.encrypt_key, plain)})
        if sign:
            stamp, nonce = (
                str(int(time.time() if timestamp is None else timestamp)),
                secrets.token_hex(8),
            )
            headers.update(
                {
                    "X-Lark-Request-Timestamp": stamp,
                    "X-Lark-Request-Nonce": nonce,
                    "X-Lark-Signature": signature(stamp, nonce, self.encrypt_key, body),
                }
            )
        return body, headers

    async def url_verification(self, challenge: str = "ch-1") -> tuple[int, bytes]:
        """The console's "save request URL" check: the challenge must come back within 1 s."""
        assert self.webhook_url
        body, headers = self.signed_request(
            {"challenge": challenge, "token": self.verification_token, "type": "url_verification"},
            sign=False,
        )
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self.webhook_url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=1),
            ) as response,
        ):
            return response.status, await response.read()

    def card_action_event(self, message_id: str, value: JSON, user: str = "ou_user1") -> JSON:
        """The `card.action.trigger` envelope of a user pressing the card button carrying
        callback `value` (it must be on the card)."""
        message = self.messages[message_id]
        if value not in message.buttons:
            raise ValueError(f"card {message_id} has no button with value {value!r}")
        return self.envelope(
            {
                "operator": {"open_id": user, "union_id": f"on_{user}", "tenant_key": "tk_test"},
                "token": secrets.token_hex(8),
                "host": "im_message",
                "delivery_type": "",
                "action": {"tag": "button", "value": value},
                "context": {"open_message_id": message_id, "open_chat_id": message.chat_id},
            },
            "card.action.trigger",
        )

    async def card_action(self, message_id: str, value: JSON, user: str = "ou_user1") -> JSON:
        """Feishu POSTs the press once and shows what comes back within 3 s."""
        return await self.post_card_action(self.card_action_event(message_id, value, user))

    async def post_card_action(self, envelope: JSON) -> JSON:
        """POSTs a press built earlier (`card_action_event`: a client still showing the card as
        it was, say). What comes back is shown: the toast, and a `raw` card replaces the
        pressed card's content (it must be a valid card: Feishu shows an error otherwise)."""
        assert self.webhook_url
        body, headers = self.signed_request(envelope)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self.webhook_url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.deadline),
            ) as response,
        ):
            answer: JSON = await response.json(content_type=None)
        card = answer.get("card")
        if isinstance(card, dict) and card.get("type") == "raw":
            _check_card(card["data"])
            message = self.messages[envelope["event"]["context"]["open_message_id"]]
            message.content = card["data"]
            self.card_updates.append(message.message_id)
        return answer

    async def _deliver(self, envelope: JSON) -> None:
        assert self.webhook_url, "set webhook_url before pushing events"
        message_id = envelope["event"].get("message", {}).get("message_id", "")
        for attempt, pause in enumerate((0.0, *self.retry_schedule)):
            await asyncio.sleep(pause)
            body, headers = self.signed_request(envelope)
            started = time.monotonic()
            status: int | None
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(
                        self.webhook_url,
                        data=body,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=self.deadline),
                    ) as response,
                ):
                    status = response.status
            except (TimeoutError, aiohttp.ClientError):
                status = None
            self.deliveries.append(
                Delivery(
                    envelope["header"]["event_id"],
                    message_id,
                    attempt,
                    status,
                    time.monotonic() - started,
                )
            )
            if status == 200:
                return

    # -- token and bot ------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        body = await _json_body(request)
        if body.get("app_id") != self.app_id:
            return _answer(400, *BAD_APP_ID)
        if body.get("app_secret") != self.app_secret:
            return _answer(400, *BAD_SECRET)
        now = self.now()
        live = [(t, until) for t, until in self.tokens.items() if until - now > REISSUE_BELOW]
        if live:
            token, until = live[0]
        else:
            token, until = f"t-{secrets.token_hex(12)}", now + self.token_lifetime
            self.tokens[token] = until
        return web.json_response(
            {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": int(until - now)}
        )

    async def _ws_endpoint(self, request: web.Request) -> web.Response:
        """Long-connection bootstrap (PROTOCOLS.md §1.11). Only refusals are useful: the
        pbbp2 WebSocket behind a granted URL is private to the SDK and not faked."""
        body = await _json_body(request)
        if (body.get("AppID"), body.get("AppSecret")) != (self.app_id, self.app_secret):
            return web.json_response({"code": 403, "msg": "app credentials are invalid"})
        host = self.base_url.removeprefix("http://")
        return web.json_response(
            {
                "code": 0,
                "msg": "ok",
                "data": {
                    "URL": f"ws://{host}/ws/not-faked?device_id=1&service_id=1",
                    "ClientConfig": {
                        "ReconnectCount": -1,
                        "ReconnectInterval": 120,
                        "ReconnectNonce": 30,
                        "PingInterval": 120,
                    },
                },
            }
        )

    async def _bot_info(self, request: web.Request) -> web.Response:
        try:
            self._authorise(request)
        except Rejection as exc:
            return _answer(exc.status, exc.code, exc.msg)
        return web.json_response(
            {
                "code": 0,
                "msg": "ok",
                "bot": {
                    "activate_status": 2,
                    "app_name": self.bot_name,
                    "avatar_url": "",
                    "ip_white_list": [],
                    "open_id": self.bot_open_id,
                },
            }
        )

    def _authorise(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise Rejection(400, *NO_TOKEN)
        until = self.tokens.get(header.removeprefix("Bearer "))
        if until is None or until < self.now():
            raise Rejection(400, *BAD_TOKEN)

    # -- messages -----------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.StreamResponse:
        async def act(body: JSON, _: Message | None) -> JSON:
            if request.query.get("receive_id_type") not in RECEIVE_ID_TYPES:
                raise Rejection(400, *FIELD_INVALID)
            chat = str(body.get("receive_id") or "")
            if not chat:
                raise Rejection(400, *FIELD_INVALID)
            return self._new_message(chat, body, None, thread=False)

        return await self._handle(request, "create", act)

    async def _reply(self, request: web.Request) -> web.StreamResponse:
        async def act(body: JSON, parent: Message | None) -> JSON:
            assert parent is not None
            return self._new_message(
                parent.chat_id, body, parent.message_id, thread=bool(body.get("reply_in_thread"))
            )

        return await self._handle(request, "reply", act)

    async def _update(self, request: web.Request) -> web.StreamResponse:
        async def act(body: JSON, message: Message | None) -> JSON:
            assert message is not None
            kind = body.get("msg_type")
            if kind not in ("text", "post") or message.msg_type not in ("text", "post"):
                raise Rejection(400, *BAD_PARAM)
            if message.edits >= MAX_EDITS:
                raise Rejection(400, *EDIT_LIMIT)
            message.content, message.msg_type = _content(str(kind), body), str(kind)
            message.edits += 1
            return _message_data(message)

        return await self._handle(request, "update", act, own=True)

    async def _patch(self, request: web.Request) -> web.StreamResponse:
        async def act(body: JSON, message: Message | None) -> JSON:
            assert message is not None
            if message.msg_type != "interactive":
                raise Rejection(400, *BAD_PARAM)
            message.content = _content("interactive", body)
            message.patches += 1
            return {}

        return await self._handle(request, "patch", act, own=True)

    async def _delete(self, request: web.Request) -> web.StreamResponse:
        async def act(body: JSON, message: Message | None) -> JSON:
            assert message is not None
            message.deleted = True
            return {}

        return await self._handle(request, "delete", act, own=True)

    def _new_message(self, chat_id: str, body: JSON, parent: str | None, *, thread: bool) -> JSON:
        kind = str(body.get("msg_type", ""))
        message = Message(
            f"om_{secrets.token_hex(16)}",
            chat_id,
            kind,
            _content(kind, body),
            "bot",
            parent_id=parent,
            thread=thread,
            uuid=body.get("uuid"),
        )
        self.messages[message.message_id] = message
        return _message_data(message)

    def _subject(self, request: web.Request, own: bool) -> Message | None:
        """The message a call is about (None for create), or the platform's error."""
        message_id = request.match_info.get("id")
        if message_id is None:
            return None
        message = self.messages.get(message_id)
        if message is None:
            raise Rejection(400, *NOT_FOUND)
        if message.deleted:
            raise Rejection(400, *WITHDRAWN)
        if own and message.sender != "bot":
            raise Rejection(400, *BAD_PARAM)
        return message

    async def _handle(
        self,
        request: web.Request,
        op: str,
        act: Callable[[JSON, Message | None], Awaitable[JSON]],
        *,
        own: bool = False,
    ) -> web.StreamResponse:
        raw = await request.read()
        call = Call(op, request.path, {}, time.monotonic())
        self.calls.append(call)
        answer: Fail | LoseResponse | None = None
        try:
            self._authorise(request)
            call.body = body = _parse(raw)
            subject = self._subject(request, own)
            self._limit(raw, body, op)
            self._throttle(subject.chat_id if subject else str(body.get("receive_id", "")))
            scripted = self._script.get(op)
            answer = scripted.popleft() if scripted else None
            if isinstance(answer, Fail):
                raise Rejection(answer.status, answer.code, answer.msg, answer.headers)
            uuid = body.get("uuid")
            data = self._known_uuid(uuid)
            if data is None:
                data = await act(body, subject)
                if isinstance(uuid, str) and uuid:
                    self._uuids[uuid] = (self.now(), data)
        except Rejection as exc:
            call.status, call.code = exc.status, exc.code
            return _answer(exc.status, exc.code, exc.msg, exc.headers)
        if isinstance(answer, LoseResponse):
            call.status = 0
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        return web.json_response({"code": 0, "msg": "success", "data": data})

    def _limit(self, raw: bytes, body: JSON, op: str) -> None:
        if (
            len(raw) > (TEXT_LIMIT if body.get("msg_type") == "text" else RICH_LIMIT)
            and op != "delete"
        ):
            raise Rejection(400, *TOO_LONG)
        if isinstance(body.get("uuid"), str) and len(body["uuid"]) > 50:
            raise Rejection(400, *FIELD_INVALID)

    def _throttle(self, chat: str) -> None:
        now = self.now()
        recent = self._recent.setdefault(chat, deque())
        while recent and now - recent[0] >= 1.0:
            recent.popleft()
        if len(recent) >= self.qps:
            raise Rejection(
                429,
                *FREQUENCY,
                headers={"x-ogw-ratelimit-limit": str(self.qps), "x-ogw-ratelimit-reset": "1"},
            )
        recent.append(now)

    def _known_uuid(self, uuid: object) -> JSON | None:
        """The first answer for `uuid` if it was used within the last hour."""
        if not isinstance(uuid, str) or uuid not in self._uuids:
            return None
        at, data = self._uuids[uuid]
        if self.now() - at > UUID_TTL:
            del self._uuids[uuid]
            return None
        return data


def _content(kind: str, body: JSON) -> JSON:
    """The parsed `content` if it is valid for `kind`, else the platform's error."""
    raw = body.get("content")
    if not isinstance(raw, str):
        raise Rejection(400, *BAD_PARAM)
    try:
        content = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Rejection(400, *BAD_PARAM) from None
    if not isinstance(content, dict):
        raise Rejection(400, *BAD_PARAM)
    if kind == "text":
        if not isinstance(content.get("text"), str) or not content["text"].strip():
            raise Rejection(400, *BAD_PARAM)
    elif kind == "post":
        _check_post(content)
    elif kind == "interactive":
        _check_card(content)
    else:
        raise Rejection(400, *BAD_PARAM)
    return content


def _check_post(content: JSON) -> None:
    locales = [v for v in content.values() if isinstance(v, dict)]
    if not locales or len(locales) != len(content):
        raise Rejection(400, *BAD_PARAM)
    for post in locales:
        paragraphs = post.get("content")
        if not isinstance(paragraphs, list) or not all(isinstance(p, list) for p in paragraphs):
            raise Rejection(400, *BAD_PARAM)
        for element in (e for p in paragraphs for e in p):
            if not isinstance(element, dict) or element.get("tag") not in POST_TAGS:
                raise Rejection(400, *BAD_PARAM)


def _check_card(content: JSON) -> None:
    elements = (
        (content.get("body") or {}).get("elements")
        if content.get("schema") == "2.0"
        else content.get("elements")
    )
    if not isinstance(elements, list) or not elements:
        raise Rejection(400, *CARD_FAILED)
    for element in elements:
        if not isinstance(element, dict) or element.get("tag") not in CARD_TAGS:
            raise Rejection(400, *CARD_FAILED)
        if element["tag"] == "markdown" and not isinstance(element.get("content"), str):
            raise Rejection(400, *CARD_FAILED)


def _message_data(message: Message) -> JSON:
    now = str(int(time.time() * 1000))
    return {
        "message_id": message.message_id,
        "root_id": message.parent_id or "",
        "parent_id": message.parent_id or "",
        "msg_type": message.msg_type,
        "create_time": now,
        "update_time": now,
        "deleted": False,
        "updated": False,
        "chat_id": message.chat_id,
        "sender": {
            "id": "cli_test",
            "id_type": "app_id",
            "sender_type": "app",
            "tenant_key": "tk_test",
        },
        "body": {"content": orjson.dumps(message.content).decode()},
    }


def _parse(raw: bytes) -> JSON:
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Rejection(400, *FIELD_INVALID) from None
    if not isinstance(body, dict):
        raise Rejection(400, *FIELD_INVALID)
    return body


async def _json_body(request: web.Request) -> JSON:
    try:
        return _parse(await request.read())
    except Rejection:
        return {}


def _answer(
    status: int, code: int, msg: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status, headers=headers)
