"""`POST /api/v1/chat`: the simple REST form, JSON or SSE, with server-kept memory per session."""

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from aibot.channels.api_keys import ApiKeys
from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.http_api.edge import new_request_id
from aibot.channels.http_bodies import (
    API_ERRORS,
    SESSION_PATTERN,
    SSE_ANSWER,
    ErrorBody,
    JsonBody,
    error_response,
    message_too_long,
)
from aibot.channels.identity import api_caller
from aibot.core.errors import AccessDenied, ModelUnavailable, QueueFull
from aibot.core.messages import Inbound, ReplyTarget
from aibot.core.pipeline import TurnContext
from aibot.core.service import ChatService, StreamEnd, stream_turn
from aibot.i18n import locale_hint


class ChatBody(JsonBody):
    session_id: str = Field(pattern=SESSION_PATTERN, description="Conversation to continue.")
    message: str = Field(
        min_length=1, description="The user's message, at most server.max_message_chars long."
    )
    user_id: str | None = Field(
        None, max_length=255, description="End user, within your key; default: the key itself."
    )
    stream: bool = Field(False, description="Answer as Server-Sent Events.")


class ChatReply(BaseModel):
    reply: str
    session_id: str
    model: str | None
    provider: str | None
    usage: dict[str, int]
    command: bool


def failure_response(exc: BaseException) -> JSONResponse:
    """Maps what can go wrong in a turn to a status a client can act on."""
    if isinstance(exc, QueueFull):
        return error_response(
            503, f"the gateway is busy: {exc}", "overloaded", {"Retry-After": "1"}
        )
    if isinstance(exc, AccessDenied):
        return error_response(401, "invalid API key", "invalid_api_key")
    if isinstance(exc, ModelUnavailable):
        return error_response(502, f"the model is unavailable: {exc}", "model_unavailable")
    raise exc


def reply_body(ctx: TurnContext, session_id: str) -> dict[str, Any]:
    return ChatReply(
        reply=ctx.reply or "",
        session_id=session_id,
        model=ctx.model,
        provider=ctx.provider,
        usage={
            "prompt_tokens": ctx.usage.prompt_tokens,
            "completion_tokens": ctx.usage.completion_tokens,
        },
        command=ctx.is_command,
    ).model_dump()


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def build_rest_router(
    service: ChatService, keys: ApiKeys, clock: Clock = SYSTEM_CLOCK
) -> APIRouter:
    router = APIRouter(tags=["chat"])

    @router.post(
        "/api/v1/chat",
        response_model=ChatReply,
        responses={
            **API_ERRORS,
            200: SSE_ANSWER,
            502: {"model": ErrorBody, "description": "The model failed"},
            503: {"model": ErrorBody, "description": "Overloaded; retry after the given seconds"},
        },
    )
    async def chat(body: ChatBody, request: Request) -> Response:
        """Send one message to a conversation; the gateway keeps its memory."""
        who = keys.require(request)
        too_long = message_too_long(body.message, service.max_message_chars)
        if too_long is not None:
            return too_long
        caller = api_caller("api", who, body.user_id, body.session_id)
        inbound = Inbound(
            channel="api",
            session_key=caller.session_key,
            user_id=caller.user_id,
            text=body.message,
            request_id=getattr(request.state, "request_id", None) or new_request_id(),
            received_at=clock.now(),
            principal=who,
            target=ReplyTarget(
                chat_id=who,  # per-chat limits apply to the key
                locale=locale_hint(request.headers.get("accept-language")),
            ),
        )
        if body.stream:
            return StreamingResponse(
                _events(service, inbound, body.session_id),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        try:
            ctx = await service.handle(inbound)
        except (QueueFull, AccessDenied) as exc:
            return failure_response(exc)
        if ctx.error is not None:
            return error_response(
                502, f"the model is unavailable: {ctx.error}", "model_unavailable"
            )
        return Response(
            orjson.dumps(reply_body(ctx, body.session_id)), media_type="application/json"
        )

    return router


async def _events(service: ChatService, inbound: Inbound, session_id: str) -> AsyncIterator[bytes]:
    async for item in stream_turn(service, inbound):
        if isinstance(item, str):
            yield _sse({"type": "delta", "text": item})
            continue
        yield _sse(_final_event(item, session_id))


def _final_event(end: StreamEnd, session_id: str) -> dict[str, Any]:
    if end.ctx is not None and end.ctx.error is None:
        return {"type": "done", **reply_body(end.ctx, session_id)}
    message = end.ctx.error if end.ctx is not None else str(end.exc)
    return {"type": "error", "message": message or "the gateway could not answer"}
