"""`POST /telegram/webhook`: updates pushed by Telegram in webhook mode.

The 200 comes only after the update is committed to the inbox (a failure answers 500 and
Telegram delivers the update again); a request without our secret token is refused with 401.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from aibot.channels.telegram.verify import SECRET_HEADER, secret_matches

WEBHOOK_PATH = "/telegram/webhook"

Receive = Callable[[dict[str, Any]], Awaitable[None]]


def build_router(secret: str, ready: Callable[[], bool], receive: Receive) -> APIRouter:
    """`ready()` is False until the bot knows who it is (getMe): updates then wait (503)."""
    router = APIRouter(include_in_schema=False)

    @router.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> Response:
        if not secret_matches(request.headers.get(SECRET_HEADER, ""), secret):
            return Response(status_code=401)
        if not ready():
            return Response(status_code=503)
        try:
            update = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return Response(status_code=400)
        if isinstance(update, dict) and "update_id" in update:
            await receive(update)
        return Response(status_code=200)

    return router
