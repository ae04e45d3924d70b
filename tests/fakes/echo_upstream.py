"""An upstream that fails by quoting the request: every platform or model API pointed at it
gets a redirect first (its Location repeats the URL, which may hold a token), then an error whose
text echoes the URL, headers and body it was sent — so any credential the gateway sends upstream
ends up in the error text the gateway receives. The worst case for error strings leaving the
process (issue 16, item 5)."""

from __future__ import annotations

from typing import Self

import orjson
from aiohttp import web


class EchoUpstream:
    def __init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.requests = 0

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        if "moved" not in request.query:
            joiner = "&" if request.query_string else "?"
            raise web.HTTPFound(f"{request.url}{joiner}moved=1")
        echo = (
            f"{request.method} {request.url} headers={dict(request.headers)} "
            f"body={(await request.read()).decode(errors='replace')}"
        )
        body = {
            "ok": False,
            "error_code": 500,
            "description": echo,
            "code": 99991663,
            "msg": echo,
            "errcode": 40001,
            "errmsg": echo,
            "message": echo,
            "error": {"message": echo, "type": "server_error", "code": "echo"},
        }
        return web.Response(status=500, body=orjson.dumps(body), content_type="application/json")
