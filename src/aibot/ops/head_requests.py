"""`HEAD` answered as the `GET` of the same path without its body, as HTTP defines it and as
Starlette's plain routes do: FastAPI's GET routes refused it 405, and uptime checkers and load
balancers probe with `HEAD` (the console's login, `/v1/models`, `/docs`…).

The whole app behind sees a GET, so the answer's status and headers (`Content-Length`
included) are the GET's by construction. A path that has no GET refuses the HEAD as it
refused it before (405, the same `Allow`)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        # A copy: the server keeps its own scope, where the request stays a HEAD.
        await self.app({**scope, "method": "GET"}, receive, headers_only)
