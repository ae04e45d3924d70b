"""`GET`/`POST /wecom/webhook`: URL verification and encrypted messages.

A POST is answered with an empty 200 as soon as the message is committed: WeCom waits 5 s, then
re-sends (3 times in all), and an empty 200 tells it nothing more is coming on this connection;
the answer follows later through `message/send`. Refusals are 4xx with one word saying why
(`signature`, `decrypt`, `receiveid`, `timestamp`, `params`, `xml`), never a 500: a store
failure answers 503 so that WeCom delivers again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from xml.etree.ElementTree import Element

import structlog
from fastapi import APIRouter, Request, Response

from aibot.channels.wecom.verify import CallbackVerifier, Rejected, query_params

log = structlog.get_logger("aibot.wecom")

WEBHOOK_PATH = "/wecom/webhook"

Handler = Callable[[Element], Awaitable[None]]
RejectHook = Callable[[Rejected], None]


def build_router(
    verifier: CallbackVerifier, handle: Handler, on_reject: RejectHook | None = None
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    def refuse(exc: Rejected) -> Response:
        if on_reject is not None:
            on_reject(exc)
        return Response(exc.reason, status_code=exc.status, media_type="text/plain")

    @router.get(WEBHOOK_PATH)
    async def verify_url(request: Request) -> Response:
        try:
            echo = verifier.echo(query_params(request.scope["query_string"]))
        except Rejected as exc:
            return refuse(exc)
        return Response(echo.encode(), media_type="text/plain; charset=utf-8")

    @router.post(WEBHOOK_PATH)
    async def receive(request: Request) -> Response:
        body = await request.body()
        try:
            message = verifier.open_post(query_params(request.scope["query_string"]), body)
        except Rejected as exc:
            return refuse(exc)
        try:
            await handle(message)
        except Exception:
            log.exception("wecom message not stored; WeCom will deliver it again")
            return Response(status_code=503)
        return Response(status_code=200)

    return router
