"""What every `/v1` response carries whatever answered it: an `x-request-id` (the id of its
log lines), and, when `api.cors_origins` lists the page's origin, CORS headers, so browser
clients (Open WebUI, LobeChat, a page of your own) can call the API; off by default.

Only the API paths get CORS: the admin console and the web page stay same-origin.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aibot.channels.identity import random_id

API_PREFIXES = ("/v1/", "/api/v1/", "/graphql")


def api_cors(app: ASGIApp, cors_origins: Sequence[str]) -> CORSMiddleware | None:
    """The API's CORS layer around `app`, None when no origin is configured: one policy for
    the full app (`ApiEdge`) and the per-message endpoints served in front of it
    (gateway/hot_routes.py), so a browser gets the same answer from both."""
    if not cors_origins:
        return None
    return CORSMiddleware(
        app,
        allow_origins=list(cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["x-request-id", "retry-after"],
        max_age=600,
    )


class ApiEdge:
    def __init__(self, app: ASGIApp, cors_origins: Sequence[str] = ()) -> None:
        self.app = app
        self.cors = api_cors(app, cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        request_id = random_id()
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode())

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        inner = self.cors or self.app
        await inner(scope, receive, stamped)
