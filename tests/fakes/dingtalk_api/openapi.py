"""The OpenAPI side: access tokens, connection tickets, session webhooks, robot sends."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.dingtalk_api.records import MSG_PARAM_LIMIT, WEBHOOK_EXPIRED, Sent, _error
from tests.fakes.dingtalk_api.stream import _StreamGateway


class _OpenApi(_StreamGateway):
    """HTTP endpoints behind ``x-acs-dingtalk-access-token``, recording what the robot sent."""

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
