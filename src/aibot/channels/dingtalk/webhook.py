"""`POST /dingtalk/webhook`: robot messages pushed by DingTalk in HTTP mode.

The `timestamp` and `sign` headers are checked first (`verify.py`); the 200 follows the inbox
commit, and a store failure answers 503, so DingTalk delivers the message again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request, Response

from aibot.channels.dingtalk.verify import ReplayGuard, verify

log = structlog.get_logger("aibot.dingtalk")

WEBHOOK_PATH = "/dingtalk/webhook"

Receive = Callable[[dict[str, Any]], Awaitable[None]]


def build_router(
    secret: str, max_age: float, now: Callable[[], float], receive: Receive
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    max_age_ms = int(max_age * 1000)
    replays = ReplayGuard(max_age_ms)

    @router.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> Response:
        signature, now_ms = request.headers.get("sign", ""), int(now() * 1000)
        if not verify(
            request.headers.get("timestamp", ""),
            signature,
            secret,
            now_ms=now_ms,
            max_age_ms=max_age_ms,
        ):
            return Response(status_code=401)
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return Response(status_code=400)
        if not isinstance(data, dict):
            return Response(status_code=400)
        if not replays.admit(signature, str(data.get("msgId")), now_ms):
            log.warning("dingtalk signature replayed with another message; refused")
            return Response(status_code=401)
        try:
            await receive(data)
        except Exception:
            # Not stored: DingTalk retries a request it did not get a 200 for.
            log.exception("dingtalk message not stored")
            return Response(status_code=503)
        return Response(b"{}", media_type="application/json")

    return router
