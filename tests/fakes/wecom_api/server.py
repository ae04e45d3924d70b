"""``FakeWecom``: lifecycle and the API (gettoken, message/send, cards, agent, media)."""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from types import TracebackType
from typing import Self

import orjson
from aiohttp import web

from tests.fakes.wecom_api.callbacks import _Callbacks
from tests.fakes.wecom_api.protocol import (
    INVALID_PARAMETER,
    JSON,
    MAX_CONTENT_BYTES,
    MEMBER_LIMIT,
    Delivery,
    Sent,
    _card_problem,
    _Token,
)


class FakeWecom(_Callbacks):
    """The fake WeCom (see the package docstring)."""

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

    # ---------------------------------------------------------------- the API

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
