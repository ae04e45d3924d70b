"""`POST /feishu/webhook`: events and card actions pushed by Feishu in webhook mode.

Each request is verified (`verify.py`) before anything is read. The URL challenge is echoed; a
card action (a 👍/👎 press, or approve/deny under a tool's question) is answered with what
Feishu shows: a toast, and a redrawn card once an approval is decided; a message event gets its
200 only once it is committed to the inbox, and never waits for the model (Feishu allows 3 s,
then re-sends). A store failure answers 503, so Feishu sends the event again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from aibot.channels.feishu.verify import Rejected, WebhookVerifier

log = structlog.get_logger("aibot.feishu")

WEBHOOK_PATH = "/feishu/webhook"
CARD_ACTION = "card.action.trigger"

Receive = Callable[[dict[str, Any]], Awaitable[None]]
CardAction = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def build_router(
    verifier: WebhookVerifier,
    now: Callable[[], float],
    ready: Callable[[], bool],
    receive: Receive,
    card_action: CardAction,
) -> APIRouter:
    """`ready()` is False until the bot knows its own open_id: events then wait (503)."""
    router = APIRouter(include_in_schema=False)

    @router.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> Response:
        body = await request.body()
        try:
            verified = verifier.verify(dict(request.headers), body, now())
        except Rejected as exc:
            log.warning("feishu webhook refused", status=exc.status, reason=str(exc))
            return Response(status_code=exc.status)
        if verified.challenge is not None:
            return JSONResponse({"challenge": verified.challenge})
        if not ready():
            return Response(status_code=503)
        if _event_type(verified.payload) == CARD_ACTION:
            return JSONResponse(await card_action(verified.payload))
        try:
            await receive(verified.payload)
        except Exception:
            log.exception("feishu event not stored; Feishu will re-send it")
            return Response(status_code=503)
        return JSONResponse({"msg": "ok"})

    return router


def _event_type(payload: dict[str, Any]) -> str | None:
    header = payload.get("header")
    return str(header.get("event_type")) if isinstance(header, dict) else None
