"""Mounts /graphql (POST and the graphql-transport-ws socket) on the app."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.routing import Route, WebSocketRoute

from aibot.admin.gateway_view import GatewayView
from aibot.admin.graphql_app import PATH, GatewayGraphQL
from aibot.admin.graphql_schema import GraphApi, build_schema
from aibot.channels.api_keys import ApiKeys
from aibot.channels.base import Clock
from aibot.core.service import ChatService


def mount_graphql(
    app: FastAPI, view: GatewayView, service: ChatService, keys: ApiKeys, clock: Clock
) -> None:
    graphql = GatewayGraphQL(build_schema(), GraphApi(view, service, clock), keys)
    # Starlette calls an endpoint that is not a function as an ASGI app of its own.
    app.router.routes.append(Route(PATH, graphql, methods=["POST"], include_in_schema=False))
    app.router.routes.append(WebSocketRoute(PATH, graphql))
