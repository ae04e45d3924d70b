"""The gateway as one ASGI app: its routes, its middleware and the lifespan that starts and
stops everything `Gateway` built."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI

from aibot import __version__
from aibot.admin.routes import AdminConsole
from aibot.admin.token_routes import build_token_router
from aibot.channels.http_api.edge import ApiEdge
from aibot.channels.http_api.openai_api import build_openai_router
from aibot.channels.http_api.rest import build_rest_router
from aibot.channels.webchat.channel import WebChat
from aibot.config import LoadedConfig
from aibot.gateway.build import Gateway
from aibot.gateway.console import ConsoleView
from aibot.gateway.docs import mount_docs
from aibot.gateway.errors import install_error_handlers
from aibot.gateway.graphiql import mount_graphiql
from aibot.gateway.graphql import mount_graphql
from aibot.gateway.hot_routes import HotRoutes, hot_endpoints
from aibot.gateway.media import UPLOAD_PATHS, blob_store, upload_limit
from aibot.ops.body_limit import BodyLimitMiddleware
from aibot.ops.forwarded import TrustedProxies
from aibot.ops.gc_tuning import tune_for_serving
from aibot.ops.health import build_health_router
from aibot.ops.host_check import HostCheck, allowed_hosts
from aibot.ops.page_headers import PageHeaders
from aibot.ops.secret_guard import ResponseSecretMask, SecretPatterns

log = structlog.get_logger("aibot")


def create_app(loaded: LoadedConfig, *, clock: Callable[[], float] = time.time) -> FastAPI:
    gateway = Gateway(loaded, clock=clock)
    server = loaded.config.server

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        gateway.reloader.listen_for_sighup()
        tune_for_serving()
        log.info(
            "gateway started",
            host=loaded.config.server.host,
            port=loaded.config.server.port,
            store=gateway.engine.dialect.name,
            model=gateway.router.default,
        )
        try:
            yield
        finally:
            await gateway.stop()
            log.info("gateway stopped")

    # FastAPI's built-in OpenTelemetry hooks look up providers on every request; our own
    # metrics cover the same ground, so they are switched off on the per-message path.
    app = FastAPI(
        title="ai-bot gateway",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,  # served from the package by gateway/docs.py
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.gateway = gateway
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=server.max_body_bytes,
        uploads=(UPLOAD_PATHS, upload_limit(loaded.config)),
    )
    app.add_middleware(ApiEdge, cors_origins=loaded.config.channels.api.cors_origins)
    secrets = SecretPatterns(gateway.masker)
    app.add_middleware(ResponseSecretMask, patterns=secrets)  # every byte a route sends
    install_error_handlers(app, gateway.keys)
    rest = build_rest_router(
        gateway.service, gateway.keys, blob_store(loaded.config), gateway.clock
    )
    openai = build_openai_router(
        gateway.service,
        gateway.keys,
        gateway.catalog,
        gateway.router,
        aliases=loaded.config.models.aliases,
        key_models=loaded.config.channels.api.key_models,
        key_tools=loaded.config.channels.api.key_tools,
        owners={n: p.owner for n, p in gateway.router.providers.items()},
        clock=gateway.clock,
    )
    app.include_router(rest)
    app.include_router(openai)
    if loaded.config.channels.api.graphql:
        mount_graphql(app, ConsoleView(gateway), gateway.service, gateway.keys, gateway.clock)
        if loaded.config.channels.api.graphiql:
            mount_graphiql(app)
    if loaded.config.auth.jwt.enabled:
        app.include_router(build_token_router(gateway.keys, gateway.access.issuer))
    if loaded.config.server.docs:
        mount_docs(app, app.title)
    app.include_router(build_health_router(gateway.readiness, gateway.metrics))
    for channel in gateway.channels:
        router = channel.router()
        if router is not None:
            app.include_router(router)
    if loaded.config.admin.enabled:
        AdminConsole(
            ConsoleView(gateway), loaded.config.admin, public_url=loaded.config.server.public_url
        ).mount(app)
    if loaded.config.channels.webchat.enabled:
        webchat = WebChat(
            gateway.service,
            gateway.memory,
            gateway.keys,
            gateway.catalog,
            gateway.problems,
            gateway.feedback,
            require_key=gateway.webchat_requires_key,
            title=loaded.config.channels.webchat.title,
            public_url=server.public_url,
            uploads=blob_store(loaded.config),
            clock=gateway.clock,
        )
        app.include_router(webchat.router())
        app.mount("/static", webchat.static(), name="static")
    hsts = (server.public_url or "").startswith("https://")
    app.add_middleware(PageHeaders, hsts=hsts)
    # The per-message endpoints skip the layers above (and FastAPI's routing): hot_routes.py.
    app.add_middleware(
        HotRoutes,
        endpoints=hot_endpoints(rest, openai),
        handlers=app.exception_handlers,
        secrets=secrets,
        max_bytes=server.max_body_bytes,
        hsts=hsts,
        cors=bool(loaded.config.channels.api.cors_origins),
    )
    # Added last, so they run first (before the secret mask: a refused Host is answered with
    # nothing but its own name): the Host check, then the client address behind a proxy.
    app.add_middleware(
        HostCheck, allowed=allowed_hosts(server.allowed_hosts, server.host, server.public_url)
    )
    app.add_middleware(TrustedProxies, trusted=server.trusted_proxies)
    return app
