"""A fake WeCom (企业微信) on loopback: the API a self-built app calls, and WeCom's callbacks.

Why a fake: the channel must be tested over real sockets against WeCom's wire format and error
codes, quickly and without qyapi.weixin.qq.com. The callback side encrypts and signs with
wechatpy (``PrpCrypto``, ``WeChatSigner``), an implementation independent of ours, so a
passing test means our crypto speaks WeCom's, not merely agrees with itself.

Use it in tests::

    async with FakeWecom() as wecom:
        # point channels.wecom.api_base at wecom.base_url
        deliveries = await wecom.push(url, wecom.text_xml("zhangsan", "你好"))
        sent = await wecom.wait_sent(1)
        wecom.script(45009)                 # the next message/send answers 45009

What it serves (always HTTP 200 with ``errcode``/``errmsg``, like WeCom):
- ``GET /cgi-bin/gettoken?corpid&corpsecret``: 40013 for an unknown corp id, 40091 for a secret
  that is not 43 characters [?: the exact split between 40001 and 40091 is not documented],
  40001 for a wrong one; the same token again while it is valid, as WeCom does.
- ``POST /cgi-bin/message/send?access_token``: 41001 without a token, 40014 for an unknown or
  revoked one, 42001 for an expired one; 60020 from an IP outside ``trusted_ips``; 301002 for
  another app's agentid; 40008 for an unknown msgtype; 44004 for empty content; ``invaliduser``
  for unknown members and 81013 when none is valid. Content over 2048 bytes is truncated and
  more than 30 messages a minute to one member are dropped, both silently (``truncated``,
  ``dropped``), as WeCom does.
- ``GET /cgi-bin/agent/get?access_token&agentid``: the app's details; 301002 and 60020 as above.
- ``message/send`` with ``msgtype: template_card`` of ``card_type: button_interaction``: a
  ``main_title.title`` or ``sub_title_text``, 1 to 6 buttons each with ``text`` and a ``key`` of
  at most 1024 bytes, distinct; a ``task_id`` of at most 128 bytes of letters, digits and
  ``_-@``, unique within the app (the errcode for a repeated one is not documented [?]: 40058
  here, WeCom's "invalid parameter"); the answer carries a ``response_code``. ``press()`` is the
  member tapping a button: a ``template_card_event`` callback (``EventKey`` = the button's key,
  ``TaskId``, ``CardType``, a new one-time ``ResponseCode``), pushed like any callback.
- ``POST /cgi-bin/message/update_template_card``: ``response_code`` (each usable once, 72 h)
  and ``button.replace_name`` turn the card's buttons into that grey, unclickable label.

The callback pusher signs and encrypts, POSTs with a 5 s timeout and tries 3 times in all on a
timeout or a non-200, as WeCom does; an empty 200 ends it. The spacing between tries is not
documented [?]; it is ``retry_gap`` here.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp import web
from wechatpy.enterprise.crypto import PrpCrypto
from wechatpy.utils import WeChatSigner
from yarl import URL

from tests.fakes.loopback import LoopbackServer

CORP_ID = "ww5823bf96d3bd56c7"
SECRET = "Sx1oGd2u5XqZ7QwErTyUiOpAsDfGhJkLzXcVbNm1234"  # 43 characters, like a real one
AGENT_ID = 1000002
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
MAX_CONTENT_BYTES = 2048
MEMBER_LIMIT = (30, 60.0)
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
INVALID_PARAMETER = 40058  # [?] the exact errcode of each card mistake is not documented

JSON = dict[str, Any]


@dataclass
class Sent:
    """A message WeCom accepted and showed the member (after truncation); a template card's
    `content` is its title, `card` the card, `replaced` the label its buttons were updated to."""

    touser: str
    msgtype: str
    content: str
    agentid: int
    at: float
    truncated: bool = False
    card: JSON | None = None
    replaced: str | None = None


@dataclass
class Delivery:
    """One try of a callback push: the status (None: timeout/network) and the body."""

    attempt: int
    status: int | None
    body: bytes
    elapsed: float


@dataclass
class _Token:
    value: str
    expires_at: float
    revoked: bool = False


@dataclass
class FakeWecom:
    corp_id: str = CORP_ID
    secret: str = SECRET
    agent_id: int = AGENT_ID
    token: str = TOKEN
    encoding_aes_key: str = AES_KEY
    members: set[str] = field(default_factory=lambda: {"zhangsan", "lisi", "wangwu"})
    trusted_ips: set[str] | None = None  # None: every IP is trusted
    token_ttl: int = 7200
    callback_timeout: float = 5.0
    retry_gap: float = 0.2
    clock: Callable[[], float] = time.monotonic  # token expiry and the per-member limit
    sent: list[Sent] = field(default_factory=list)
    dropped: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, JSON]] = field(default_factory=list)  # (path, answer)
    token_requests: int = 0

    def __post_init__(self) -> None:
        self._server = LoopbackServer()
        self._key = base64.b64decode(self.encoding_aes_key + "=")
        self._tokens: dict[str, _Token] = {}
        self._current: _Token | None = None
        self._scripted: deque[int] = deque()
        self._per_member: dict[str, deque[float]] = {}
        self._changed = asyncio.Event()
        self.base_url = ""
        # Temporary media (临时素材) users sent: media_id -> (bytes, type, file name).
        self.media: dict[str, tuple[bytes, str, str]] = {}
        self.media_fetches: list[str] = []
        self.media_hang = 0.0  # seconds media/get waits before its answer (it never ends)
        self.media_requested: list[str] = []  # media ids asked for, answered or not
        self._response_codes: dict[str, Sent] = {}  # unused codes -> the card they update
        self.card_updates: list[JSON] = []

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_get("/cgi-bin/media/get", self._media_get)
        app.router.add_post("/cgi-bin/message/send", self._send)
        app.router.add_post("/cgi-bin/message/update_template_card", self._update_card)
        app.router.add_get("/cgi-bin/agent/get", self._agent_get)
        self.base_url = await self._server.start(app)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._server.stop()

    # ---------------------------------------------------------------- scripting and reading
    def script(self, *errcodes: int) -> None:
        """The next message/send calls answer these errcodes, one each (after token checks);
        0 lets that call through."""
        self._scripted.extend(errcodes)

    def expire_tokens(self) -> None:
        """Every issued token is past its expiry: calls get 42001."""
        for token in self._tokens.values():
            token.expires_at = 0.0
        self._current = None

    def revoke_tokens(self) -> None:
        """WeCom invalidated the tokens early: calls get 40014."""
        for token in self._tokens.values():
            token.revoked = True
        self._current = None

    def sent_to(self, user: str) -> list[Sent]:
        return [s for s in self.sent if s.touser == user]

    def errcodes(self, path: str) -> list[int]:
        return [int(answer["errcode"]) for p, answer in self.calls if p == path]

    async def wait_sent(
        self, count: int, user: str | None = None, timeout: float = 10.0
    ) -> list[Sent]:
        async def reached() -> list[Sent]:
            while True:
                found = self.sent_to(user) if user else list(self.sent)
                if len(found) >= count:
                    return found
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(reached(), timeout)

    # ---------------------------------------------------------------- the API
    def _answer(
        self, request: web.Request, path: str, code: int, message: str = "ok", **extra: Any
    ) -> web.Response:
        body: JSON = {"errcode": code, "errmsg": message}
        if code:
            body["errmsg"] = (
                f"{message}, hint: [{int(time.time())}_{secrets.token_hex(8)}], "
                f"from ip: {request.remote}, more info at "
                f"https://open.work.weixin.qq.com/devtool/query?e={code}"
            )
        body.update(extra)
        self.calls.append((path, body))
        self._changed.set()
        return web.Response(
            body=orjson.dumps(body), content_type="application/json", charset="UTF-8"
        )

    async def _gettoken(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        query = request.query
        if query.get("corpid") != self.corp_id:
            return self._answer(request, "gettoken", 40013, "invalid corpid")
        secret = query.get("corpsecret", "")
        if len(secret) != len(self.secret):
            return self._answer(request, "gettoken", 40091, "secret is invalid")
        if secret != self.secret:
            return self._answer(request, "gettoken", 40001, "invalid credential")
        now = self.clock()
        if self._current is None or self._current.expires_at <= now:
            self._current = _Token(secrets.token_urlsafe(96), now + self.token_ttl)
            self._tokens[self._current.value] = self._current
        return self._answer(
            request,
            "gettoken",
            0,
            access_token=self._current.value,
            expires_in=int(self._current.expires_at - now),
        )

    def _token_problem(self, request: web.Request, path: str) -> web.Response | None:
        value = request.query.get("access_token")
        if not value:
            return self._answer(request, path, 41001, "access_token missing")
        token = self._tokens.get(value)
        if token is None or token.revoked:
            return self._answer(request, path, 40014, "invalid access_token")
        if token.expires_at <= self.clock():
            return self._answer(request, path, 42001, "access_token expired")
        if self.trusted_ips is not None and request.remote not in self.trusted_ips:
            return self._answer(request, path, 60020, "not allow to access from your ip")
        return None

    async def _agent_get(self, request: web.Request) -> web.Response:
        problem = self._token_problem(request, "agent/get")
        if problem is not None:
            return problem
        if request.query.get("agentid") != str(self.agent_id):
            return self._answer(
                request,
                "agent/get",
                301002,
                "not allow operate another agent with this accesstoken.",
            )
        return self._answer(
            request,
            "agent/get",
            0,
            agentid=self.agent_id,
            name="AI 助手",
            description="",
            close=0,
            allow_userinfos={"user": [{"userid": m} for m in sorted(self.members)]},
        )

    async def _send(self, request: web.Request) -> web.Response:
        path = "message/send"
        problem = self._token_problem(request, path)
        if problem is not None:
            return problem
        scripted = self._scripted.popleft() if self._scripted else 0
        if scripted:
            return self._answer(request, path, scripted, "scripted failure")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self._answer(request, path, 47001, "data format error")  # [?]
        if body.get("agentid") != self.agent_id:
            return self._answer(
                request, path, 301002, "not allow operate another agent with this accesstoken."
            )
        kind = body.get("msgtype")
        if kind == "template_card":
            return self._send_card(request, body)
        if kind not in ("text", "markdown"):
            return self._answer(request, path, 40008, "invalid message type")
        content = (body.get(kind) or {}).get("content") or ""
        if not content:
            return self._answer(request, path, 44004, "empty content")
        users = [u for u in str(body.get("touser", "")).split("|") if u]
        valid = [u for u in users if u in self.members]
        invalid = "|".join(u for u in users if u not in self.members)
        if not valid:
            return self._answer(request, path, 81013, "user & party & tag all invalid")
        encoded = content.encode()
        shown = encoded[:MAX_CONTENT_BYTES].decode("utf-8", "ignore")
        now = self.clock()
        for user in valid:
            message = Sent(
                user,
                kind,
                shown,
                int(body["agentid"]),
                now,
                truncated=len(encoded) > MAX_CONTENT_BYTES,
            )
            recent = self._per_member.setdefault(user, deque())
            while recent and recent[0] <= now - MEMBER_LIMIT[1]:
                recent.popleft()
            recent.append(now)
            (self.dropped if len(recent) > MEMBER_LIMIT[0] else self.sent).append(message)
        return self._answer(
            request,
            path,
            0,
            invaliduser=invalid,
            invalidparty="",
            invalidtag="",
            unlicenseduser="",
            msgid=secrets.token_hex(16),
        )

    def _send_card(self, request: web.Request, body: JSON) -> web.Response:
        path = "message/send"
        card = body.get("template_card")
        problem = _card_problem(card, {s.card["task_id"] for s in self.sent if s.card})
        if problem or not isinstance(card, dict):
            return self._answer(
                request, path, INVALID_PARAMETER, f"invalid template_card: {problem}"
            )
        user = str(body.get("touser", ""))
        if user not in self.members:
            return self._answer(request, path, 81013, "user & party & tag all invalid")
        title = str((card.get("main_title") or {}).get("title") or card.get("sub_title_text"))
        sent = Sent(user, "template_card", title, int(body["agentid"]), self.clock(), card=card)
        self.sent.append(sent)
        code = secrets.token_urlsafe(24)
        self._response_codes[code] = sent
        return self._answer(
            request, path, 0, invaliduser="", msgid=secrets.token_hex(16), response_code=code
        )

    async def _update_card(self, request: web.Request) -> web.Response:
        path = "message/update_template_card"
        problem = self._token_problem(request, path)
        if problem is not None:
            return problem
        body = orjson.loads(await request.read())
        if body.get("agentid") != self.agent_id:
            return self._answer(
                request, path, 301002, "not allow operate another agent with this accesstoken."
            )
        card = self._response_codes.pop(str(body.get("response_code")), None)
        name = (body.get("button") or {}).get("replace_name")
        if card is None or not isinstance(name, str) or not name:
            return self._answer(request, path, INVALID_PARAMETER, "invalid response_code")
        card.replaced = name
        self.card_updates.append(body)
        return self._answer(request, path, 0, invaliduser=[])

    async def press(
        self, url: str, card: Sent, button: int, *, user: str | None = None, lost: int = 0
    ) -> list[Delivery]:
        """The member taps button `button` of `card` (someone else's tap on a card sent only
        to one member is impossible in WeCom): a `template_card_event` pushed like any
        callback (`lost`: WeCom delivers it again, as after a lost answer)."""
        if card.card is None or card.replaced is not None:
            raise ValueError("this card has no buttons to press")
        key = card.card["button_list"][button]["key"]
        code = secrets.token_urlsafe(24)
        self._response_codes[code] = card
        event = (
            f"<Event><![CDATA[template_card_event]]></Event><EventKey><![CDATA[{key}]]>"
            f"</EventKey><TaskId><![CDATA[{card.card['task_id']}]]></TaskId><CardType>"
            f"<![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[{code}]]>"
            "</ResponseCode>"
        )
        xml = self._message_xml(user or card.touser, "event", event, None)
        return await self.push(url, xml, lost=lost)

    async def _media_get(self, request: web.Request) -> web.Response:
        """获取临时素材: the file with its type and name, or a JSON error (HTTP 200)."""
        token = self._tokens.get(request.query.get("access_token", ""))
        if token is None or token.revoked or token.expires_at < self.clock():
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        found = self.media.get(request.query.get("media_id", ""))
        if found is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        data, mime, name = found
        self.media_requested.append(request.query["media_id"])
        if self.media_hang:
            await asyncio.sleep(self.media_hang)
        self.media_fetches.append(request.query["media_id"])
        return web.Response(
            body=data,
            headers={
                "Content-Type": mime,
                "Content-disposition": f'attachment; filename="{name}"',
            },
        )

    # ---------------------------------------------------------------- WeCom's callbacks
    def encrypt(self, message: str) -> str:
        return str(PrpCrypto(self._key).encrypt(message, self.corp_id).decode())

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce, encrypted)
        return str(signer.signature)

    def signed_query(self, encrypted: str, *, timestamp: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        nonce = str(secrets.randbelow(10**10))
        return {
            "msg_signature": self.sign(timestamp, nonce, encrypted),
            "timestamp": timestamp,
            "nonce": nonce,
        }

    def envelope(self, encrypted: str) -> bytes:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><AgentID><![CDATA["
            f"{self.agent_id}]]></AgentID><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"</xml>"
        ).encode()

    def text_xml(
        self, user: str, content: str, msg_id: int | None = None, create_time: int | None = None
    ) -> str:
        return self._message_xml(
            user,
            "text",
            f"<Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id or secrets.randbelow(2**63)}</MsgId>",
            create_time,
        )

    def add_media(self, data: bytes, mime: str, name: str) -> str:
        """A file a user sent, as WeCom keeps it for three days; returns its MediaId."""
        media_id = f"3{secrets.token_hex(20)}"
        self.media[media_id] = (data, mime, name)
        return media_id

    def image_xml(self, user: str, msg_id: int | None = None, media_id: str = "media1") -> str:
        return self._message_xml(
            user,
            "image",
            "<PicUrl><![CDATA[http://127.0.0.1/p.jpg]]>"
            f"</PicUrl><MediaId><![CDATA[{media_id}]]></MediaId>"
            f"<MsgId>{msg_id or secrets.randbelow(2**63)}</MsgId>",
            None,
        )

    def voice_xml(self, user: str, media_id: str, recognition: str | None = None) -> str:
        """A voice message (AMR); `Recognition` only where speech recognition is switched on."""
        heard = f"<Recognition><![CDATA[{recognition}]]></Recognition>" if recognition else ""
        return self._message_xml(
            user,
            "voice",
            f"<MediaId><![CDATA[{media_id}]]></MediaId><Format><![CDATA[amr]]></Format>{heard}"
            f"<MsgId>{secrets.randbelow(2**63)}</MsgId>",
            None,
        )

    def location_xml(self, user: str) -> str:
        return self._message_xml(
            user,
            "location",
            "<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y>"
            "<Scale>20</Scale><Label><![CDATA[位置信息]]></Label>"
            f"<MsgId>{secrets.randbelow(2**63)}</MsgId>",
            None,
        )

    def event_xml(
        self, user: str, event: str = "enter_agent", create_time: int | None = None
    ) -> str:
        return self._message_xml(
            user,
            "event",
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[]]></EventKey>",
            create_time,
        )

    def _message_xml(self, user: str, kind: str, rest: str, create_time: int | None) -> str:
        return (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><FromUserName>"
            f"<![CDATA[{user}]]></FromUserName><CreateTime>"
            f"{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[{kind}]]>"
            f"</MsgType>{rest}<AgentID>{self.agent_id}</AgentID></xml>"
        )

    async def push(
        self, url: str, message: str, *, tries: int = 3, lost: int = 0
    ) -> list[Delivery]:
        """Delivers `message` as WeCom does: encrypted, signed, up to `tries` times.

        `lost`: that many first answers never reach WeCom (a network cut after our 200), so
        it delivers the same request again, as it does after its 5 s timeout.
        """
        encrypted = self.encrypt(message)
        query = self.signed_query(encrypted)
        deliveries: list[Delivery] = []
        timeout = aiohttp.ClientTimeout(total=self.callback_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for attempt in range(1, tries + 1):
                started = time.monotonic()
                try:
                    async with http.post(
                        url,
                        params=query,
                        data=self.envelope(encrypted),
                        headers={"Content-Type": "text/xml"},
                    ) as response:
                        status: int | None = response.status
                        body = await response.read()
                except (TimeoutError, aiohttp.ClientError):
                    status, body = None, b""
                deliveries.append(Delivery(attempt, status, body, time.monotonic() - started))
                if status == 200 and attempt > lost:
                    break
                await asyncio.sleep(self.retry_gap)
        return deliveries

    async def verify_url(self, url: str, echo: str | None = None) -> tuple[int, bytes, str]:
        """The console's 保存 on 设置API接收: a signed GET with a URL-encoded echostr.

        Returns the status, the body and the expected echo (the body must equal it exactly).
        """
        echo = echo or str(secrets.randbelow(10**19))
        encrypted = self.encrypt(echo)
        params = {**self.signed_query(encrypted), "echostr": encrypted}
        query = "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())
        timeout = aiohttp.ClientTimeout(total=self.callback_timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(URL(f"{url}?{query}", encoded=True)) as response,
        ):
            return response.status, await response.read(), echo


def _card_problem(card: object, task_ids: set[str]) -> str | None:
    """What WeCom would refuse in a button_interaction card (None: nothing)."""
    if not isinstance(card, dict) or card.get("card_type") != "button_interaction":
        return "card_type"
    if not (card.get("main_title") or {}).get("title") and not card.get("sub_title_text"):
        return "main_title.title or sub_title_text"
    task = card.get("task_id")
    if not isinstance(task, str) or not TASK_ID.fullmatch(task) or task in task_ids:
        return "task_id"
    buttons = card.get("button_list")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 6:
        return "button_list"
    keys = [b.get("key") for b in buttons if isinstance(b, dict) and b.get("text")]
    if len(keys) != len(buttons) or len(set(keys)) != len(keys):
        return "button_list.key"
    if not all(isinstance(k, str) and 0 < len(k.encode()) <= 1024 for k in keys):
        return "button_list.key"
    return None
