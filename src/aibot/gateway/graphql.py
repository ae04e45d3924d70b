"""Mounts /graphql (POST and the graphql-transport-ws socket) on the app.

Strawberry and the schema are a fifth of the gateway's import time and most gateways never
answer a GraphQL query, so the endpoint is built on its first request (which waits for that
import once, a fraction of a second) instead of at start (issue 20: cold start).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from aibot.admin.gateway_view import GatewayView
from aibot.channels.api_keys import GRAPHQL_PATH, ApiKeys
from aibot.channels.base import Clock
from aibot.core.service import ChatService
from aibot.ops.gc_tuning import settle_after_build

if TYPE_CHECKING:
    from aibot.admin.graphql_app import GatewayGraphQL


class LazyGraphQL:
    """The /graphql ASGI app, imported and built when the first request arrives."""

    def __init__(
        self, view: GatewayView, service: ChatService, keys: ApiKeys, clock: Clock
    ) -> None:
        self.view, self.service, self.keys, self.clock = view, service, keys, clock
        self.app: GatewayGraphQL | None = None

    def build(self) -> ASGIApp:
        if self.app is None:
            from aibot.admin.graphql_app import GatewayGraphQL
            from aibot.admin.graphql_schema import GraphApi, build_schema

            api = GraphApi(self.view, self.service, self.clock)
            self.app = GatewayGraphQL(build_schema(), api, self.keys)
            settle_after_build()  # ~34,000 objects that live as long as the process
        return self.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.build()(scope, receive, send)


def mount_graphql(
    app: FastAPI, view: GatewayView, service: ChatService, keys: ApiKeys, clock: Clock
) -> None:
    graphql = LazyGraphQL(view, service, keys, clock)
    # Starlette calls an endpoint that is not a function as an ASGI app of its own.
    app.router.routes.append(
        Route(GRAPHQL_PATH, graphql, methods=["POST"], include_in_schema=False)
    )
    app.router.routes.append(WebSocketRoute(GRAPHQL_PATH, graphql))
