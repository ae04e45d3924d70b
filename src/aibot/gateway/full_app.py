"""The FastAPI app: every route but the probes and the per-message endpoints (which the app in
front answers itself, gateway/hot_routes.py, and which are registered here too, the same
functions, for the OpenAPI document), with its middleware. Imported and built on the first
request that needs it (gateway/lazy_app.py), never at start."""

from __future__ import annotations

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
from aibot.gateway.errors import UnexpectedAsJson, install_error_handlers
from aibot.gateway.graphiql import mount_graphiql
from aibot.gateway.graphql import mount_graphql
from aibot.gateway.lazy_app import Served
from aibot.gateway.media import UPLOAD_PATHS, blob_store, upload_limit
from aibot.ops.body_limit import BodyLimitMiddleware
from aibot.ops.head_requests import HeadAsGet
from aibot.ops.health import build_health_router
from aibot.ops.page_headers import PageHeaders
from aibot.ops.secret_guard import ResponseSecretMask


def build_full_app(loaded: LoadedConfig, gateway: Gateway, served: Served) -> FastAPI:
    server = loaded.config.server
    # FastAPI's built-in OpenTelemetry hooks look up providers on every request; our own
    # metrics cover the same ground, so they are switched off on the per-message path.
    app = FastAPI(
        title="ai-bot gateway",
        version=__version__,
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
    app.add_middleware(UnexpectedAsJson)  # inside ApiEdge: the answer gets its request id
    app.add_middleware(ApiEdge, cors_origins=loaded.config.channels.api.cors_origins)
    app.add_middleware(ResponseSecretMask, patterns=served.secrets)  # every byte a route sends
    install_error_handlers(app, served.handlers)
    app.include_router(build_rest_router(served.chat))
    app.include_router(
        build_openai_router(
            served.completions,
            gateway.keys,
            served.names,
            gateway.router,
            owners={n: p.owner for n, p in gateway.router.providers.items()},
            clock=gateway.clock,
        )
    )
    if loaded.config.channels.api.graphql:
        mount_graphql(app, ConsoleView(gateway), gateway.service, gateway.keys, gateway.clock)
        if loaded.config.channels.api.graphiql:
            mount_graphiql(app)
    if loaded.config.auth.jwt.enabled:
        app.include_router(build_token_router(gateway.keys, gateway.access.issuer))
    if loaded.config.server.docs:
        mount_docs(app, app.title)
    app.include_router(build_health_router(served.health))
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
    app.add_middleware(PageHeaders, hsts=served.hsts)
    app.add_middleware(HeadAsGet)  # outermost: every layer answers the HEAD as its GET
    return app
