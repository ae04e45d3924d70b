"""The web chat page (`GET /`) and its WebSocket (`/ws`).

On loopback the page is open; bound anywhere else it asks for an API key, so nobody who can
reach the port can spend the owner's model key. Cross-site pages are refused by an Origin
check (`verify.py`), since a browser lets any site open a WebSocket to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from aibot.channels.api_keys import ApiKeys, bearer_token
from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.identity import OPEN_PAGE, ApiCaller, page_caller
from aibot.channels.webchat.page import render
from aibot.channels.webchat.uploads import PageUploads
from aibot.channels.webchat.verify import same_origin
from aibot.core.commands import ModelCatalog
from aibot.core.errors import QueueFull
from aibot.core.feedback import Feedback
from aibot.core.media import UploadStore
from aibot.core.message_size import too_long_reply
from aibot.core.messages import Inbound, ReplyTarget
from aibot.core.notices import failure_notice
from aibot.core.service import ChatService, StreamEnd, stream_turn
from aibot.core.sessions import SessionMemory
from aibot.i18n import N_, locale_hint, pick, translate

STATIC_DIR = Path(__file__).parent / "static"
HELLO_TIMEOUT = 15.0
_NO_HELLO = N_("The connection sent no hello in time; reload the page.")
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

log = structlog.get_logger("aibot.webchat")


class WebChat:
    def __init__(
        self,
        service: ChatService,
        memory: SessionMemory,
        keys: ApiKeys,
        catalog: ModelCatalog,
        problems: Callable[[str], list[str]],
        feedback: Feedback,
        *,
        require_key: bool,
        title: str,
        public_url: str | None = None,
        uploads: UploadStore,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._public_url = public_url
        self._clock = clock
        self.uploads = PageUploads(
            uploads,
            lambda request: self._authenticate(bearer_token(request)),
            lambda session_id: bool(_SESSION_ID.match(session_id)),
            clock.monotonic,
            public_url,
        )
        self._service = service
        self._feedback = feedback
        self._memory = memory
        self._keys = keys
        self._catalog = catalog
        self._problems = problems
        self._require_key = require_key
        self._title = title

    def router(self) -> APIRouter:
        router = APIRouter(include_in_schema=False)

        # HEAD too: uptime checkers (UptimeRobot's default) and load balancers probe the page.
        @router.api_route("/", methods=["GET", "HEAD"])
        async def page(request: Request) -> HTMLResponse:
            """The page in the browser's language (`Accept-Language`, `ui.language`)."""
            language = pick(request.headers.get("accept-language"))
            return HTMLResponse(
                render(language),
                headers={"Cache-Control": "no-cache", "Vary": "Accept-Language"},
            )

        router.add_api_websocket_route("/ws", self.websocket)
        router.add_api_route("/web/upload", self.uploads.upload, methods=["POST"])
        return router

    def static(self) -> StaticFiles:
        return StaticFiles(directory=STATIC_DIR)

    async def websocket(self, websocket: WebSocket) -> None:
        if not same_origin(websocket, self._public_url):
            await websocket.close(code=4403, reason="cross-origin connections are refused")
            return
        await websocket.accept()
        try:
            await self._converse(websocket)
        except WebSocketDisconnect:
            pass
        except (TimeoutError, ValueError) as exc:
            # A refusal of the socket's own protocol, in the page's language: the page shows
            # the message (a paste far over the limit is refused here, before the text check).
            said = str(exc) if isinstance(exc, ValueError) else _NO_HELLO
            message = translate(_language(websocket), said)
            await _send(websocket, {"type": "error", "code": "bad_request", "message": message})
            await websocket.close(code=4400)

    async def _converse(self, websocket: WebSocket) -> None:
        hello = await asyncio.wait_for(
            _receive(websocket, self._service.max_message_chars), timeout=HELLO_TIMEOUT
        )
        if hello.get("type") != "hello":
            raise ValueError(N_("the first frame must be a hello"))
        principal = self._authenticate(hello.get("key"))
        if principal is None:
            language = _language(websocket)
            message = (
                translate(
                    language, "This gateway is reachable from the network; enter the access key."
                )
                if self._keys.configured
                else translate(
                    language,
                    "This gateway is reachable from the network but has no access keys: "
                    "set channels.api.keys in config.yaml and restart.",
                )
            )
            await _send(websocket, {"type": "error", "code": "unauthorized", "message": message})
            await websocket.close(code=4401)
            return
        requested = hello.get("session_id")
        session_id = (
            requested
            if isinstance(requested, str) and _SESSION_ID.match(requested)
            else uuid.uuid4().hex
        )
        address = websocket.client.host if websocket.client else ""
        caller = page_caller(principal, address, session_id)
        await self._ready(websocket, session_id, caller)
        while True:
            frame = await _receive(websocket, self._service.max_message_chars)
            kind = frame.get("type")
            if kind == "new":
                session_id = uuid.uuid4().hex
                caller = page_caller(principal, address, session_id)
                await self._ready(websocket, session_id, caller)
            elif kind == "message":
                await self._answer(websocket, caller, principal, frame, session_id)
            elif kind == "rate":
                await self._rate(websocket, session_id, caller, frame)

    def _authenticate(self, key: Any) -> str | None:
        if not self._require_key:
            return OPEN_PAGE
        return self._keys.principal(key if isinstance(key, str) else None)

    async def _ready(self, websocket: WebSocket, session_id: str, caller: ApiCaller) -> None:
        state = await self._memory.get(caller.session_key)
        model = state.model or self._catalog.default
        await _send(
            websocket,
            {
                "type": "ready",
                "session_id": session_id,
                "title": self._title,
                "history": [
                    {
                        "role": turn["role"],
                        "content": turn["content"],
                        "request_id": turn["request_id"],
                    }
                    for turn in state.turns
                ],
                "model": self._catalog.describe(model) if model else None,
                "problems": self._problems(_language(websocket)),
            },
        )

    async def _answer(
        self,
        websocket: WebSocket,
        caller: ApiCaller,
        principal: str,
        frame: dict[str, Any],
        session_id: str,
    ) -> None:
        message_id = str(frame.get("id") or uuid.uuid4().hex)[:64]
        text = frame.get("text")
        attachments = self.uploads.take(session_id, frame.get("attachments") or [])
        if attachments is None:
            message = translate(
                _language(websocket), "attachment expired or unknown: upload it again"
            )
            await _send(websocket, {"type": "error", "id": message_id, "message": message})
            return
        if not isinstance(text, str) or not (text.strip() or attachments):
            message = translate(_language(websocket), "empty message")
            await _send(websocket, {"type": "error", "id": message_id, "message": message})
            return
        limit = self._service.max_message_chars
        if len(text) > limit:
            await _send(
                websocket,
                {
                    "type": "error",
                    "id": message_id,
                    "message": too_long_reply(
                        pick(locale_hint(websocket.headers.get("accept-language"))), limit
                    ),
                },
            )
            return
        inbound = Inbound(
            channel="web",
            session_key=caller.session_key,
            user_id=caller.user_id,
            text=text.strip(),
            request_id=uuid.uuid4().hex,
            received_at=self._clock.now(),
            principal=principal,
            target=ReplyTarget(locale=locale_hint(websocket.headers.get("accept-language"))),
            attachments=attachments,
        )
        await _send(websocket, {"type": "start", "id": message_id})
        async for item in stream_turn(self._service, inbound):
            if isinstance(item, str):
                await _send(websocket, {"type": "delta", "id": message_id, "text": item})
            else:  # the banner follows: a failure shows its cause, a recovery clears it
                await _send(
                    websocket,
                    {
                        **_final(item, message_id, inbound.request_id, _language(websocket)),
                        "problems": self._problems(_language(websocket)),
                    },
                )

    async def _rate(
        self, websocket: WebSocket, session_id: str, caller: ApiCaller, frame: dict[str, Any]
    ) -> None:
        """👍/👎 on an answer of this session (an id from another session is refused)."""
        request_id, score = frame.get("request_id"), frame.get("score")
        rated = None
        if isinstance(request_id, str) and score in (1, -1):
            rated = await self._feedback.rate(
                "web", session_id, score, request_id[:64], session_key=caller.session_key
            )
        await _send(
            websocket,
            {
                "type": "rated",
                "request_id": request_id,
                "score": score if rated is not None else None,
            },
        )


def _language(websocket: WebSocket) -> str:
    return pick(websocket.headers.get("accept-language"))


def _final(end: StreamEnd, message_id: str, request_id: str, language: str) -> dict[str, Any]:
    """The answer, or a short notice in the page's language: the cause is in the banner and
    the log (under `request_id`), never the library's words in the conversation."""
    ctx = end.ctx
    if ctx is not None and ctx.error is None:
        rateable = ctx.provider is not None and ctx.keep_turn and not ctx.is_command
        return {
            "type": "done",
            "id": message_id,
            "text": ctx.reply or "",
            "model": ctx.model,
            "request_id": ctx.inbound.request_id if rateable else None,
        }
    if ctx is None:
        log.warning("web message failed", request_id=request_id, error=repr(end.exc)[:300])
    busy = isinstance(end.exc, QueueFull)
    notice = failure_notice(language, request_id, busy=busy)
    return {"type": "error", "id": message_id, "message": notice}


async def _receive(websocket: WebSocket, max_chars: int) -> dict[str, Any]:
    # Not `receive_text()`: a binary frame has no "text" and made it raise KeyError, an
    # unhandled exception (abnormal close, traceback in the log) instead of a refusal.
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    raw = message.get("text")
    if not isinstance(raw, str):
        raise ValueError(N_("frames must be JSON text, not binary"))
    if len(raw) > max_chars * 6 + 1024:  # a JSON-escaped character takes up to six
        raise ValueError(N_("The message is too large to send."))
    try:
        frame = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError(N_("frames must be JSON")) from None
    if not isinstance(frame, dict):
        raise ValueError(N_("frames must be JSON objects"))
    return frame


async def _send(websocket: WebSocket, frame: dict[str, Any]) -> None:
    await websocket.send_text(orjson.dumps(frame).decode())
