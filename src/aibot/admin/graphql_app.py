"""/graphql as an ASGI app: Strawberry behind the gateway's own key check.

An HTTP request without a valid key or token is answered 401 before Strawberry sees it, so an
unauthenticated caller can neither run nor introspect anything. On the socket
(`graphql-transport-ws`) the credential comes in the upgrade's Authorization header or in
`connection_init`'s payload (`{"Authorization": "Bearer …"}`), as browser clients must send
it; without one the socket is closed with 4403. No IDE is served (`graphql_ide=None`): the
usual GraphiQL page loads its code from a CDN, which the gateway never makes a browser do.

Refusals are said in the caller's language (`Accept-Language` of the request or of the
upgrade, as REST's). graphql-transport-ws has no message for a refused `connection_init`, only
the close frame, so the words go in its reason.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry import Schema
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from aibot.admin.graphql_schema import UNAUTHENTICATED, Caller, GraphApi
from aibot.channels.api_keys import GRAPHQL_PATH, ApiKeys
from aibot.channels.http_bodies import caller_language
from aibot.i18n import N_, locale_hint, translate

PATH = GRAPHQL_PATH
MAX_FRAME = 64 * 1024  # a subscribe message with its document and variables fits well
FORBIDDEN = 4403  # graphql-transport-ws: a refused `connection_init`
MAX_CLOSE_REASON = 123  # bytes of UTF-8 a close frame carries
INVALID: Message = {"type": "websocket.receive", "text": '{"type": "invalid"}'}
ACK = cast(UnsetType, UNSET)  # acknowledge with no payload


def _bearer(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return value.strip() or None


class GatewayGraphQL(GraphQL[dict[str, Any], None]):
    def __init__(self, schema: Schema, api: GraphApi, keys: ApiKeys) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=4,
        )
        self.api = api
        self.keys = keys

    def caller(self, credential: str | None, accept_language: str | None) -> Caller | None:
        principal = self.keys.principal(credential, PATH)
        scope = self.keys.scope_of(credential)
        if principal is None or scope is None:
            return None
        return Caller(principal, scope, locale_hint(accept_language))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await super().__call__(scope, _checked_frames(receive), _said_refusal(scope, send))
            return
        if scope["type"] == "http":
            request = Request(scope, receive)
            credential = _bearer(request.headers.get("authorization"))
            if self.caller(credential, None) is None:
                await _unauthenticated(caller_language(request.headers))(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> dict[str, Any]:
        credential = _bearer(request.headers.get("authorization"))
        return {
            "request": request,
            "response": response,
            "api": self.api,
            "caller": self.caller(credential, request.headers.get("accept-language")),
            "language": caller_language(request.headers),
        }

    async def on_ws_connect(self, context: dict[str, Any]) -> UnsetType | dict[str, object] | None:
        if context.get("caller") is not None:
            return ACK
        params: dict[str, Any] = context.get("connection_params") or {}
        credential = _bearer(params.get("Authorization") or params.get("authorization"))
        caller = self.caller(credential, None)
        if caller is None:
            raise ConnectionRejectionError()  # closed with 4403, said by `_said_refusal`
        context["caller"] = caller
        return ACK


def _checked_frames(receive: Receive) -> Receive:
    """Frames reach Strawberry only as JSON objects with a `type`, parsed within bounds: one too
    large, nested too deep for Python's own parser (a RecursionError there drops the socket
    uncleanly) or of another shape is handed on as a message of unknown type, which the
    protocol refuses with 4400 like any bad message."""

    async def checked() -> Message:
        message = await receive()
        if message["type"] != "websocket.receive":
            return message
        frame = message.get("text") or message.get("bytes") or b""
        try:
            if len(frame) > MAX_FRAME:
                raise ValueError("frame too large")
            parsed = orjson.loads(frame)  # bounded nesting: an error, never a RecursionError
        except (orjson.JSONDecodeError, ValueError):
            return INVALID
        if not isinstance(parsed, dict) or not isinstance(parsed.get("type"), str):
            return INVALID  # Strawberry indexes the message before checking its shape
        return message

    return checked


def _said_refusal(scope: Scope, send: Send) -> Send:
    """Strawberry closes a refused `connection_init` with 4403 and the reason "Forbidden"; the
    reason becomes why, in the language of the upgrade's `Accept-Language` (a client shows the
    reason, programs read the code). Cut to what a close frame carries, on a character."""

    async def said(message: Message) -> None:
        if message["type"] == "websocket.close" and message.get("code") == FORBIDDEN:
            reason = translate(caller_language(Headers(scope=scope)), UNAUTHENTICATED)
            cut = reason.encode()[:MAX_CLOSE_REASON].decode(errors="ignore")
            message = {**message, "reason": cut}
        await send(message)

    return said


def _unauthenticated(language: str) -> Response:
    message = N_("missing or invalid API key or token (Authorization: Bearer <key>)")
    body = {
        "errors": [
            {
                "message": translate(language, message),
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    return Response(
        orjson.dumps(body),
        status_code=401,
        media_type="application/json",
        headers={"WWW-Authenticate": "Bearer"},
    )
