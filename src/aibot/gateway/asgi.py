"""The gateway as one ASGI app: the lifespan that starts and stops everything `Gateway` built,
the layers every request passes, and the routes.

A start imports no FastAPI (issue 20: cold start). The app the server runs answers the probes
(`/healthz`, `/readyz`, `/metrics`) and the per-message endpoints itself (hot_routes.py),
behind the trusted-proxy rewrite and the Host check; every other request goes to the FastAPI
app (full_app.py: the admin console, the web page, the docs, GraphQL, the channels'
webhooks…), which the first such request imports and builds (lazy_app.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog
from starlette.middleware.errors import ServerErrorMiddleware

from aibot.channels.http_api.openai_chat import ModelNames, completions_endpoint
from aibot.channels.http_api.rest import chat_endpoint
from aibot.config import LoadedConfig
from aibot.gateway.build import Gateway
from aibot.gateway.errors import error_handlers
from aibot.gateway.hot_routes import HotRoutes
from aibot.gateway.lazy_app import GatewayApp, LazyApp, Served
from aibot.gateway.media import blob_store
from aibot.ops.forwarded import TrustedProxies
from aibot.ops.gc_tuning import tune_for_serving
from aibot.ops.health import health_endpoints
from aibot.ops.host_check import HostCheck, allowed_hosts
from aibot.ops.secret_guard import SecretPatterns
from aibot.store.warm_up import warm_up

if TYPE_CHECKING:
    from fastapi import FastAPI

log = structlog.get_logger("aibot")


def create_app(loaded: LoadedConfig, *, clock: Callable[[], float] = time.time) -> GatewayApp:
    gateway = Gateway(loaded, clock=clock)
    server, api = loaded.config.server, loaded.config.channels.api
    names = ModelNames(gateway.catalog, loaded.config.models.aliases, api.key_models)
    served = Served(
        chat=chat_endpoint(gateway.service, gateway.keys, blob_store(loaded.config), gateway.clock),
        completions=completions_endpoint(
            gateway.service, gateway.keys, names, key_tools=api.key_tools, clock=gateway.clock
        ),
        names=names,
        health=health_endpoints(gateway.readiness, gateway.metrics),
        handlers=error_handlers(gateway.keys),
        secrets=SecretPatterns(gateway.masker),
        hsts=(server.public_url or "").startswith("https://"),
    )

    def build() -> FastAPI:
        from aibot.gateway.full_app import build_full_app

        return build_full_app(loaded, gateway, served)

    full = LazyApp(build)
    hot = HotRoutes(
        full,
        endpoints={
            ("POST", "/v1/chat/completions"): served.completions,
            ("POST", "/api/v1/chat"): served.chat,
            # Load balancers and uptime checkers probe with HEAD as often as with GET.
            **{
                (method, path): endpoint
                for path, endpoint in served.health.items()
                for method in ("GET", "HEAD")
            },
        },
        handlers=served.handlers,
        secrets=served.secrets,
        max_bytes=server.max_body_bytes,
        hsts=served.hsts,
        cors_origins=api.cors_origins,
        admin_port=loaded.config.admin.port if loaded.config.admin.enabled else None,
    )
    # The Host check runs before anything answers (and before the secret mask: a refused Host
    # is answered with nothing but its own name), the client address behind a proxy before it.
    host_check = HostCheck(
        hot, allowed=allowed_hosts(server.allowed_hosts, server.host, server.public_url)
    )
    front = ServerErrorMiddleware(TrustedProxies(host_check, trusted=server.trusted_proxies))

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        await gateway.start()
        gateway.reloader.listen_for_sighup()
        if any(channel.router() is not None for channel in gateway.channels):
            # Platforms time their callbacks (Feishu's URL check wants the answer within 1 s):
            # a gateway that takes webhooks builds its routes now, not at the first one.
            full.get()
        tune_for_serving()
        log.info(
            "gateway started",
            host=server.host,
            port=server.port,
            store=gateway.engine.name,
            model=gateway.router.default,
        )
        try:
            yield
        finally:
            await gateway.stop()
            log.info("gateway stopped")

    return GatewayApp(
        front,
        lifespan=lifespan,
        full=full,
        state={"gateway": gateway},
        serving=lambda: warm_up(gateway.engine),  # SQLAlchemy, on a SQLite file
    )
