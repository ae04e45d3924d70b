"""An integrator's endpoint for the webhook channel: records signed reply callbacks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections import deque
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from tests.fakes.loopback import LoopbackServer


class CallbackReceiver:
    """Answers each callback with the next scripted status (default 200) and records it."""

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.bad_signatures = 0
        self._statuses: deque[int] = deque()
        self._arrived = asyncio.Condition()
        self._server = LoopbackServer()
        self.url = ""

    def script(self, *statuses: int) -> None:
        self._statuses.extend(statuses)

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/callback", self._handle)
        self.url = await self._server.start(app) + "/callback"
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self._server.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.secret is not None:
            expected = "sha256=" + hmac.new(
                self.secret.encode(),
                request.headers["X-AIBot-Timestamp"].encode() + b"." + body, hashlib.sha256,
            ).hexdigest()
            if not hmac.compare_digest(expected, request.headers.get("X-AIBot-Signature", "")):
                self.bad_signatures += 1
                return web.Response(status=401)
        status = self._statuses.popleft() if self._statuses else 200
        if status < 300:
            async with self._arrived:
                self.received.append(await request.json())
                self.headers.append(dict(request.headers))
                self._arrived.notify_all()
        return web.Response(status=status)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.received) >= count)

        await asyncio.wait_for(enough(), timeout)
        return self.received
