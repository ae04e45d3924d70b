"""An integrator's endpoint for the webhook channel: records signed reply callbacks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import orjson
from aiohttp import web

from tests.fakes.loopback import LoopbackServer


@dataclass(frozen=True, slots=True)
class Attempt:
    """One callback that reached the receiver, whatever it was answered."""

    reply_id: Any
    status: int
    at: float  # time.monotonic()


class CallbackReceiver:
    """Answers each callback with the next scripted status (default 200) and records it.

    Outages: while `outage` is set every callback is answered with that status (the script
    is not consumed); `go_down` closes the port so senders get "connection refused", and
    `come_back` listens on the same port again. `attempts` logs every callback as it arrives;
    `delay` holds each one that long before answering (a slow platform).
    """

    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.attempts: list[Attempt] = []
        self.bad_signatures = 0
        self.outage: int | None = None
        self.delay = 0.0
        self._statuses: deque[int] = deque()
        self._arrived = asyncio.Condition()
        self._server = LoopbackServer()
        self._port = 0
        self.url = ""

    def script(self, *statuses: int) -> None:
        self._statuses.extend(statuses)

    async def __aenter__(self) -> Self:
        await self.come_back()
        return self

    async def go_down(self) -> None:
        """Stop listening: callbacks now fail to connect."""
        await self._server.stop()

    async def come_back(self) -> None:
        """Listen again, on the port of the first start, so the gateway's URL still works."""
        app = web.Application()
        app.router.add_post("/callback", self._handle)
        base = await self._server.start(app, port=self._port)
        self._port = int(base.rsplit(":", 1)[1])
        self.url = base + "/callback"

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.secret is not None:
            expected = (
                "sha256="
                + hmac.new(
                    self.secret.encode(),
                    request.headers["X-AIBot-Timestamp"].encode() + b"." + body,
                    hashlib.sha256,
                ).hexdigest()
            )
            if not hmac.compare_digest(expected, request.headers.get("X-AIBot-Signature", "")):
                self.bad_signatures += 1
                return web.Response(status=401)
        if self.outage is not None:
            status = self.outage
        else:
            status = self._statuses.popleft() if self._statuses else 200
        self.attempts.append(Attempt(orjson.loads(body).get("reply_id"), status, time.monotonic()))
        if self.delay:
            await asyncio.sleep(self.delay)
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
