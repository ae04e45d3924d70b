"""The ASGI app a gateway starts with, and the full FastAPI app it builds on first need.

Importing FastAPI and building its app (the routers, the admin console, the web page, the
API docs) was most of a cold start (issue 20), and a gateway that only answers probes and
messages never needs it: those are answered by the layers in front (gateway/hot_routes.py).
Every other request builds the full app once, then goes to it. A gateway with a channel that
takes webhooks builds it while starting instead (gateway/asgi.py): a platform's callback has
a deadline that the build must not eat into.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from aibot.channels.http_api.openai_chat import ModelNames
from aibot.channels.http_bodies import Endpoint
from aibot.gateway.errors import KEYED_PREFIXES, Handler, unexpected
from aibot.ops.gc_tuning import settle_after_build
from aibot.ops.secret_guard import SecretPatterns

if TYPE_CHECKING:
    from fastapi import FastAPI

log = structlog.get_logger("aibot")


@dataclass(frozen=True)
class Served:
    """What the app in front serves itself, handed to the full app, which registers the same
    functions (for the OpenAPI document and the requests the front does not take)."""

    chat: Endpoint  # POST /api/v1/chat
    completions: Endpoint  # POST /v1/chat/completions
    names: ModelNames
    health: dict[str, Endpoint]  # GET, by path
    handlers: dict[type[Exception], Handler]
    secrets: SecretPatterns
    hsts: bool


class LazyApp:
    """The full app, built by the first request that reaches it.

    The build has no `await` in it (imports and constructors), so requests that arrive while
    it runs cannot interleave with it: they wait for the event loop, as every request waits
    that one time, and then find the app built. A build that fails answers that request with
    the API's JSON 500 under the API's paths (`unexpected`, as a route's failure is answered)
    and a plain 500 elsewhere, its traceback logged once; the next request tries again.
    """

    def __init__(self, build: Callable[[], FastAPI]) -> None:
        self._build = build
        self._app: FastAPI | None = None

    def get(self) -> FastAPI:
        if self._app is None:
            self._app = self._build()
            settle_after_build()  # the routes, pages and docs live as long as the process
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            app = self.get()
        except Exception as exc:
            if scope["type"] != "http":
                log.exception("building the gateway's routes failed")
                raise
            await build_failed(scope, receive, send, exc)
            return
        await app(scope, receive, send)


async def build_failed(scope: Scope, receive: Receive, send: Send, exc: Exception) -> None:
    """The answer to a request whose routes could not be built: the API's JSON error under the
    API's paths, the server's plain 500 elsewhere; the traceback in the log once."""
    if scope["path"].startswith(KEYED_PREFIXES):
        await unexpected(Request(scope, receive), exc)(scope, receive, send)
        return
    log.error("building the gateway's routes failed", path=scope["path"], exc_info=exc)
    await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send)


class GatewayApp:
    """What the server runs: the lifespan (the gateway's start and stop) and the layers in
    front of the full app.

    In-process users (tests, the OpenAPI document) reach the FastAPI app as `full`, which
    builds it on access; `state.gateway` is there from the start. `serving` is what the server
    calls once it listens (cli/serve.py): work that need not delay the first answer.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        lifespan: Callable[[], AbstractAsyncContextManager[None]],
        full: LazyApp,
        state: dict[str, Any],
        serving: Callable[[], object] = lambda: None,
    ) -> None:
        self.app = app  # the layers in front (gateway/asgi.py)
        self.lifespan = lifespan
        self.serving = serving
        self._full = full
        self.state = State(state)

    @property
    def full(self) -> FastAPI:
        return self._full.get()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self  # as Starlette does; the full app sets itself for its routes
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """ASGI's lifespan protocol around `lifespan`, as Starlette's router speaks it.

        A second Ctrl-C (or signal) while the gateway stops makes uvicorn leave without the
        shutdown, and the loop cancels the lifespan and whatever the stop still awaited: that is
        said in a line an operator can act on, instead of as the cancelled stop's traceback."""
        started = False
        await receive()  # lifespan.startup
        try:
            async with self.lifespan():
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
        except asyncio.CancelledError:
            if not started:
                raise
            log.warning(
                "stopped before the shutdown finished (a second signal): requests in flight "
                "were cut off; platform messages not yet answered and replies not yet sent "
                "are resumed at the next start"
            )
            return
        except BaseException:
            failed = "shutdown" if started else "startup"
            await send({"type": f"lifespan.{failed}.failed", "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})
