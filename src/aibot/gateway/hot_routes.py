"""The per-message endpoints (`POST /v1/chat/completions`, `POST /api/v1/chat`) and the probes
(`GET /healthz`, `/readyz`, `/metrics`), served past FastAPI and the middleware layers that
exist for every other route — and before FastAPI is even imported (gateway/asgi.py).

A request to one of them would pass through more than ten ASGI layers, each wrapping `send`
and `receive`, and a router that compares the path with every route the gateway has — on the
path a message takes, that machinery cost more than the handler (bench/README.md). Here the
same handler (the function the route's router registers, so the OpenAPI document, the handler
and its tests stay one) is called straight, with what those layers did done in one place, in
the same order and with the same answers:

- the body is read once, against `server.max_body_bytes` (413 `body_too_large`, as
  `ops/body_limit.py` answers);
- under the API's paths the request gets its id (`request.state.request_id`), and the response
  its `x-request-id` header (`channels/http_api/edge.py`);
- an exception the app has a handler for (a missing key, a store that is down, a body that does
  not validate) is answered by that handler (gateway/errors.py); any other by `unexpected`,
  the API's JSON 500, as the full app answers it under the API's paths (`UnexpectedAsJson`);
- the response carries HSTS when `public_url` is https (`ops/page_headers.py`; these answers are
  never HTML, so the framing headers do not apply);
- every header and body chunk is masked for the configured secrets (`ops/secret_guard.py`).

With `channels.api.cors_origins`, every request under the API's paths passes the same CORS
layer as behind (`api_cors`): a browser's preflight (`OPTIONS` with `Origin` and
`Access-Control-Request-Method`) is answered here, and every answer carries the CORS headers
(`Vary: Origin` too), so a browser client never waits for the full app's build.

The Host check and the trusted-proxy rewrite run before this layer, as for every route. What
it does not take, the full app answers: other methods and paths, a multipart body (uploads
have their own limit), and anything that arrives on `admin.port` (where the full app serves
the console and refuses everything else, admin/port.py).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aibot.channels.http_api.edge import API_PREFIXES, api_cors
from aibot.channels.http_bodies import Endpoint
from aibot.channels.identity import random_id
from aibot.gateway.errors import handler_for, unexpected
from aibot.ops.body_limit import BodyTooLarge, declared_over, read_within, refuse
from aibot.ops.page_headers import HSTS
from aibot.ops.secret_guard import SecretPatterns, mask_message

Handler = Callable[[Request, Any], Response | Awaitable[Response]]

_HSTS = (b"strict-transport-security", HSTS.encode())


class HotRoutes:
    def __init__(
        self,
        app: ASGIApp,
        *,
        endpoints: Mapping[tuple[str, str], Endpoint],
        handlers: Mapping[Any, Handler],
        secrets: SecretPatterns,
        max_bytes: int,
        hsts: bool,
        cors_origins: Sequence[str] = (),
        admin_port: int | None = None,
    ) -> None:
        self.app = app
        self._cors = api_cors(self._serve, cors_origins)
        if self._cors is not None:  # the preflights of the API's endpoints, answered by CORS
            endpoints = {
                **endpoints,
                **{
                    ("OPTIONS", path): endpoint
                    for (method, path), endpoint in endpoints.items()
                    if method == "POST" and path.startswith(API_PREFIXES)
                },
            }
        self._endpoints = endpoints  # by (method, path)
        self._handlers = handlers  # the app's exception handlers
        self._secrets = secrets
        self._max_bytes = max_bytes
        self._extra_headers = (_HSTS,) if hsts else ()
        self._admin_port = admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._endpoint(scope)
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        scope["endpoint"] = endpoint  # as Starlette's router records the handler it chose
        headers = self._extra_headers
        api = scope["path"].startswith(API_PREFIXES)
        if api:
            request_id = random_id()
            scope.setdefault("state", {})["request_id"] = request_id
            headers = ((b"x-request-id", request_id.encode()), *headers)
        send = self._sender(send, headers)
        await (self._cors if api and self._cors is not None else self._serve)(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The body, read against the limit, and the endpoint's answer to it."""
        if declared_over(scope, self._max_bytes):
            await refuse(scope, send, self._max_bytes)
            return
        try:
            body = await read_within(receive, self._max_bytes)
        except BodyTooLarge:
            await refuse(scope, send, self._max_bytes)
            return
        if body is None:
            return  # the client left before its body arrived: nobody to answer
        request = Request(scope, receive)
        request._body = body  # read above; the handler's `await request.body()` returns it
        response = await self._answer(scope["endpoint"], request)
        await response(scope, receive, send)

    def _endpoint(self, scope: Scope) -> Endpoint | None:
        if scope["type"] != "http":
            return None
        if self._admin_port is not None and (scope.get("server") or ("", 0))[1] == self._admin_port:
            return None
        method = scope["method"]
        endpoint = self._endpoints.get((method, scope["path"]))
        if endpoint is None or not _taken(scope["headers"], preflight=method == "OPTIONS"):
            return None
        return endpoint

    async def _answer(self, endpoint: Endpoint, request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            handler = handler_for(self._handlers, exc)
            if handler is None:
                return unexpected(request, exc)
            answer = handler(request, exc)
            return await answer if inspect.isawaitable(answer) else answer

    def _sender(self, send: Send, headers: tuple[tuple[bytes, bytes], ...]) -> Send:
        patterns = self._secrets()

        async def sender(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *headers]}
            await send(mask_message(message, patterns) if patterns else message)

        return sender


def _taken(headers: list[tuple[bytes, bytes]], *, preflight: bool) -> bool:
    """Not multipart; an `OPTIONS` only as a CORS preflight (any other is the full app's 405)."""
    if preflight:
        names = {name for name, _ in headers}
        return b"origin" in names and b"access-control-request-method" in names
    for name, value in headers:
        if name == b"content-type" and value.startswith(b"multipart/"):
            return False
    return True
