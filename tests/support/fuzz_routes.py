"""Every route of the gateway, as the hostile-request fuzz tests see them (issue 9).

A new route fails ``test_every_served_route_is_fuzzed`` until it is added here; a route that only
some configuration serves fails ``test_no_configuration_serves_an_unfuzzed_route``.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st
from pydantic import BaseModel
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from tests.support.fuzz_rig import Reply, Rig
from tests.support.hostile_inputs import bodies, cookies, hostile_headers, queries


@dataclass(frozen=True)
class Endpoint:
    method: str  # WEBSOCKET for the chat page's socket
    path: str
    public: bool = False  # open to anyone by design (health, docs, static files, login page)


ENDPOINTS = [
    Endpoint("GET", "/openapi.json", True),
    Endpoint("GET", "/docs", True),
    Endpoint("GET", "/docs/assets/{path}", True),
    Endpoint("GET", "/healthz", True),
    Endpoint("GET", "/readyz", True),
    Endpoint("GET", "/metrics", True),
    Endpoint("GET", "/", True),
    Endpoint("GET", "/static/{path}", True),
    Endpoint("GET", "/admin/static/{path}", True),
    Endpoint("GET", "/admin/login", True),
    Endpoint("GET", "/.well-known/jwks.json", True),
    Endpoint("POST", "/api/v1/chat"),
    Endpoint("POST", "/api/v1/token"),
    Endpoint("POST", "/api/v1/token/revoke"),
    Endpoint("POST", "/api/v1/messages"),
    Endpoint("GET", "/v1/models"),
    Endpoint("GET", "/v1/models/{model_id:path}"),
    Endpoint("POST", "/v1/chat/completions"),
    Endpoint("POST", "/v1/embeddings"),
    Endpoint("POST", "/telegram/webhook"),
    Endpoint("POST", "/feishu/webhook"),
    Endpoint("GET", "/wecom/webhook"),
    Endpoint("POST", "/wecom/webhook"),
    Endpoint("POST", "/dingtalk/webhook"),
    Endpoint("WEBSOCKET", "/ws"),
    Endpoint("POST", "/web/upload"),
    Endpoint("GET", "/graphql", True),  # GraphiQL's page: static, no credential in it
    Endpoint("GET", "/graphql/assets/{path}", True),
    Endpoint("POST", "/graphql"),
    Endpoint("WEBSOCKET", "/graphql"),
    Endpoint("POST", "/admin/login"),
    Endpoint("GET", "/admin"),
    Endpoint("GET", "/admin/api/stats"),
    Endpoint("GET", "/admin/api/series"),
    Endpoint("POST", "/admin/api/token"),
    Endpoint("GET", "/admin/conversations"),
    Endpoint("GET", "/admin/conversation"),
    Endpoint("GET", "/admin/conversation/export"),
    Endpoint("GET", "/admin/media/{media_id}"),
    Endpoint("GET", "/admin/channels"),
    Endpoint("POST", "/admin/channels/{name}/pause"),
    Endpoint("POST", "/admin/channels/{name}/resume"),
    Endpoint("GET", "/admin/models"),
    Endpoint("POST", "/admin/models/default"),
    Endpoint("POST", "/admin/models/canary"),
    Endpoint("GET", "/admin/keys"),
    Endpoint("POST", "/admin/keys"),
    Endpoint("POST", "/admin/keys/{key_id}/revoke"),
    Endpoint("POST", "/admin/keys/{key_id}/rotate"),
    Endpoint("GET", "/admin/policies"),
    Endpoint("POST", "/admin/policies"),
    Endpoint("GET", "/admin/dead-letters"),
    Endpoint("POST", "/admin/dead-letters/{row_id}/retry"),
    Endpoint("GET", "/admin/audit"),
    Endpoint("GET", "/admin/users"),
    Endpoint("POST", "/admin/users/{user_id}/signout"),
    Endpoint("POST", "/admin/logout"),
    Endpoint("GET", "/admin/schedules"),
    Endpoint("POST", "/admin/schedules/{name}/pause"),
    Endpoint("POST", "/admin/schedules/{name}/resume"),
    Endpoint("POST", "/admin/schedules/{name}/run"),
    Endpoint("GET", "/admin/account/password"),
    Endpoint("POST", "/admin/account/password"),
]
HTTP_ENDPOINTS = [e for e in ENDPOINTS if e.method != "WEBSOCKET"]
PUBLIC = {(e.method, e.path) for e in ENDPOINTS if e.public}

SESSION_COOKIE = "aibot_admin="

POST_PATHS = sorted({e.path for e in ENDPOINTS if e.method == "POST" and "{" not in e.path})


def served(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers flattened."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            found |= served(inner.routes)
        elif isinstance(route, Mount):
            found.add(("GET", route.path + "/{path}"))
        elif isinstance(route, WebSocketRoute):
            found.add(("WEBSOCKET", route.path))
        elif isinstance(route, Route):
            found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


def concrete(path: str, filler: str) -> str:
    """A templated path with its parameter filled (traversal attempts included)."""
    start = path.find("{")
    if start < 0:
        return path
    return path[:start] + (quote(filler, safe="/%.") or "x") + path[path.find("}") + 1 :]


def switches(model: type[BaseModel], at: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    """Every value of every on/off or one-of setting of the config (a `bool` or `Literal`
    field, at any depth, inside optional sections too), each as a nested override: the ways
    a configuration can differ in what it mounts (a feature, a channel's mode)."""
    for name, field in model.model_fields.items():
        kinds = typing.get_args(field.annotation) if _is_union(field.annotation) else ()
        for kind in kinds or (field.annotation,):
            if kind is bool:
                values: tuple[Any, ...] = (True, False)
            elif typing.get_origin(kind) is typing.Literal:
                values = typing.get_args(kind)
            elif isinstance(kind, type) and issubclass(kind, BaseModel):
                yield from switches(kind, (*at, name))
                continue
            else:
                continue
            for value in values:
                override: dict[str, Any] = {name: value}
                for key in reversed(at):
                    override = {key: override}
                yield override


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


@dataclass(frozen=True)
class Hostile:
    """One random request without valid credentials to one of ENDPOINTS."""

    endpoint: Endpoint
    method: str  # the endpoint's own, or another one
    path: str  # the endpoint's, its parameter filled
    options: dict[str, Any]  # body, headers, query and cookies for `Rig.request`


@st.composite
def hostile_requests(draw: st.DrawFn) -> Hostile:
    endpoint = draw(st.sampled_from(HTTP_ENDPOINTS))
    filler = draw(
        st.text(max_size=20)
        | st.sampled_from(["../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "1"])
    )
    method = draw(st.sampled_from([None, None, None, "GET", "POST", "PUT", "DELETE", "PATCH"]))
    options = {
        "body": draw(bodies()),
        "headers": draw(hostile_headers()),
        "query": draw(queries()),
        "cookies": draw(cookies),
    }
    return Hostile(endpoint, method or endpoint.method, concrete(endpoint.path, filler), options)


def assert_refused(rig: Rig, request: Hostile, reply: Reply) -> None:
    """A sane answer to `request`: no 5xx, no file from outside the static folders, no secret,
    and, unless the route is public, neither a success nor a console session."""
    assert reply.status < 500, reply
    assert b"root:x:0:0" not in reply.body  # no path traversal out of the static folders
    assert rig.leaked(reply) == [], reply
    if (request.method, request.endpoint.path) not in PUBLIC:
        assert not 200 <= reply.status < 300, reply
        assert not any(c.startswith(SESSION_COOKIE) for c in reply.set_cookies), reply
