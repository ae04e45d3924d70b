"""A round-robin HTTP load balancer on loopback, in front of several gateway replicas.

Like nginx with `proxy_next_upstream error`: a request whose backend refuses the connection
goes to the next backend (nothing was sent, so that is safe); one that fails after it was sent
gets a 502, as the platform would see it, and the platform's own retry (same message id) is
what the gateway must then deduplicate.
"""

from __future__ import annotations

import itertools
from collections import Counter
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp import web

from tests.fakes.loopback import LoopbackServer

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


class LoadBalancer:
    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.served: Counter[str] = Counter()  # backend -> requests it answered
        self._turn = itertools.count()
        self._server = LoopbackServer()
        self._http: aiohttp.ClientSession | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._proxy)
        self.url = await self._server.start(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()
        if self._http is not None:
            await self._http.close()

    async def _proxy(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        start = next(self._turn)
        for attempt in range(len(self.backends)):
            backend = self.backends[(start + attempt) % len(self.backends)]
            try:
                async with self._http.request(
                    request.method, backend + request.path_qs, data=body, headers=headers
                ) as upstream:
                    payload = await upstream.read()
                    self.served[backend] += 1
                    return web.Response(
                        status=upstream.status,
                        body=payload,
                        headers={
                            k: v
                            for k, v in upstream.headers.items()
                            if k.lower() not in _HOP_HEADERS
                        },
                    )
            except aiohttp.ClientConnectorError:
                continue  # refused before anything was sent: try the next replica
            except aiohttp.ClientError:
                return web.Response(status=502, text="upstream failed mid-request")
        return web.Response(status=502, text="no replica reachable")
