"""`POST /api/v1/messages`: an integrator's message, committed to the inbox, answered 202.

The reply is not in the response: it is POSTed later to `channels.webhook.callback_url`, signed,
with retries through the outbox. A repeated `message_id` answers 200 "duplicate".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from aibot.channels.api_keys import ApiKeys
from aibot.channels.http_bodies import API_ERRORS, message_too_long
from aibot.channels.webhook.inbound import MessageBody, read_message
from aibot.core.inbox import Inbox

WEBHOOK_PATH = "/api/v1/messages"


class Queued(BaseModel):
    status: Literal["accepted", "duplicate"]


def build_router(inbox: Inbox, keys: ApiKeys, now: Callable[[], float]) -> APIRouter:
    router = APIRouter(tags=["webhook channel"])

    @router.post(
        WEBHOOK_PATH,
        status_code=202,
        response_model=Queued,
        responses={
            **API_ERRORS,
            200: {"model": Queued, "description": "Already queued (same message_id): nothing new"},
        },
    )
    async def receive(body: MessageBody, request: Request) -> JSONResponse:
        """Queue a message durably; the reply is delivered to the callback URL."""
        who = keys.require(request)
        too_long = message_too_long(request, body.message, inbox.max_message_chars)
        if too_long is not None:
            return too_long
        accepted = await inbox.accept(read_message(body, who, now()))
        return JSONResponse(
            {"status": "accepted" if accepted else "duplicate"},
            status_code=202 if accepted else 200,
        )

    return router
