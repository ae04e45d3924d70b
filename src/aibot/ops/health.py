"""`/healthz` (the process serves), `/readyz` (store, model, channels usable), `/metrics`.

The handlers are plain Starlette: probes are answered from the first second without FastAPI,
which the gateway imports only for its other routes (gateway/asgi.py); `build_health_router`
registers the same functions there, for the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aibot.i18n import pick
from aibot.ops.metrics import Metrics

if TYPE_CHECKING:
    from fastapi import APIRouter

Endpoint = Callable[[Request], Awaitable[Response]]


def health_endpoints(
    readiness: Callable[[str], Awaitable[dict[str, Any]]], metrics: Metrics
) -> dict[str, Endpoint]:
    """The GET handlers by path."""

    async def healthz(_request: Request) -> Response:
        """Liveness: 200 while the process serves requests."""
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Readiness: 200 when store and a model are usable; otherwise 503 and what is missing
        (in the language of `Accept-Language`, else `ui.default_language`)."""
        report = await readiness(pick(request.headers.get("accept-language")))
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    async def prometheus(_request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return {"/healthz": healthz, "/readyz": readyz, "/metrics": prometheus}


def build_health_router(endpoints: dict[str, Endpoint]) -> APIRouter:
    from fastapi import APIRouter

    router = APIRouter(tags=["operations"])
    router.get("/healthz", response_model=dict[str, str])(endpoints["/healthz"])
    router.get(
        "/readyz",
        responses={503: {"description": "Not ready; the same report says what is missing"}},
    )(endpoints["/readyz"])
    router.get("/metrics", include_in_schema=False)(endpoints["/metrics"])
    for path, endpoint in endpoints.items():
        # HEAD as Starlette's own GET routes take it (the server sends no body): load
        # balancers and uptime checkers probe with it.
        router.head(path, include_in_schema=False)(endpoint)
    return router
