"""``FakeFeishu``: the open platform's HTTP routes (tokens, bot info, messages) on loopback."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from aiohttp import web

from tests.fakes.feishu_api.content import _answer, _content, _json_body, _message_data, _parse
from tests.fakes.feishu_api.events import _Events
from tests.fakes.feishu_api.protocol import (
    BAD_APP_ID,
    BAD_PARAM,
    BAD_SECRET,
    EDIT_LIMIT,
    FIELD_INVALID,
    FREQUENCY,
    JSON,
    MAX_EDITS,
    NOT_FOUND,
    RECEIVE_ID_TYPES,
    REISSUE_BELOW,
    RICH_LIMIT,
    TEXT_LIMIT,
    TOO_LONG,
    UUID_TTL,
    WITHDRAWN,
)
from tests.fakes.feishu_api.records import Call, Fail, LoseResponse, Message, Rejection


class FakeFeishu(_Events):
    """The fake open platform (see the package docstring)."""

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
