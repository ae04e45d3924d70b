"""`/healthz` (the process serves), `/readyz` (store, model, channels usable), `/metrics`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from aibot.i18n import pick
from aibot.ops.metrics import Metrics


def build_health_router(
    readiness: Callable[[str], Awaitable[dict[str, Any]]], metrics: Metrics
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: 200 while the process serves requests."""
        return {"status": "ok"}

    @router.get(
        "/readyz",
        responses={503: {"description": "Not ready; the same report says what is missing"}},
    )
    async def readyz(request: Request) -> JSONResponse:
        """Readiness: 200 when store and a model are usable; otherwise 503 and what is missing
        (in the language of `Accept-Language`, else `ui.default_language`)."""
        report = await readiness(pick(request.headers.get("accept-language")))
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    @router.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return router
