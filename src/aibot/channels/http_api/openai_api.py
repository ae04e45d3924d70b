"""The OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`) so any OpenAI client works.

With a conversation named (`user` field or `X-Session-Id` header) the gateway keeps the memory:
the model gets the stored history plus the request's last user message. Without one the call is
stateless and the request's messages are sent as given.
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from aibot.channels.api_keys import ApiKeys
from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.http_bodies import SSE_ANSWER, ErrorBody, JsonBody, ParseError
from aibot.core.commands import ModelCatalog
from aibot.core.errors import AccessDenied, ModelUnavailable, QueueFull
from aibot.core.messages import Inbound, Message
from aibot.core.pipeline import TurnContext
from aibot.core.service import ChatService, stream_turn

MAX_TOKENS = 2**31 - 1


# Request bodies are strict: "12" is not an integer nor "true" a boolean, as the OpenAPI
# document says (lax parsing accepted both; schemathesis flagged it).
class WireMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    @field_validator("content")
    @classmethod
    def _text_parts_have_text(cls, content: Any) -> Any:
        """A text part whose `text` is not a string is refused (400), as OpenAI refuses it;
        `text: null` passed validation, then failed the join below: a 500, found by fuzzing."""
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "text" and not isinstance(part.get("text", ""), str):
                    raise ValueError("a text part's `text` must be a string")
        return content

    def text(self) -> str:
        """Text parts only: images and audio are not supported by the gateway yet."""
        if isinstance(self.content, list):
            return "".join(p.get("text", "") for p in self.content if p.get("type") == "text")
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    include_usage: bool = False


class CompletionBody(JsonBody):
    model_config = ConfigDict(extra="allow", strict=True)
    model: str | None = None
    messages: list[WireMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=255)
    # Bounded: an integer past 64 bits passed validation, then failed to serialise for the
    # provider (a 500, found by schemathesis).
    max_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    temperature: float | None = Field(None, ge=0, le=2)


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str


class OpenAIErrorBody(BaseModel):
    """OpenAI's error shape, which its clients parse."""

    error: OpenAIErrorDetail


UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": OpenAIErrorBody, "description": "Missing or wrong API key"}
}


def openai_error(
    status: int,
    message: str,
    code: str,
    kind: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=status,
        headers=headers,
    )


def openai_failure(exc: BaseException) -> JSONResponse:
    if isinstance(exc, AccessDenied):
        return openai_error(401, "Incorrect API key provided.", "invalid_api_key")
    if isinstance(exc, QueueFull):
        return openai_error(
            503,
            f"The gateway is overloaded: {exc}",
            "overloaded",
            "server_error",
            {"Retry-After": "1"},
        )
    if isinstance(exc, ModelUnavailable):
        return openai_error(
            502, f"The model is unavailable: {exc}", "model_unavailable", "api_error"
        )
    raise exc


class _Completion:
    """Shapes our turn result as OpenAI objects."""

    def __init__(self, model: str, now: float) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(now)
        self.model = model

    def full(self, ctx: TurnContext) -> dict[str, Any]:
        prompt, completion = ctx.usage.prompt_tokens, ctx.usage.completion_tokens
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": ctx.model or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ctx.reply or ""},
                    "logprobs": None,
                    "finish_reason": ctx.finish_reason or "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }

    def chunk(
        self,
        delta: dict[str, Any],
        finish: str | None = None,
        usage: dict[str, int] | None = None,
        *,
        empty: bool = False,
    ) -> bytes:
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": []
            if empty
            else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            body["usage"] = usage
        return b"data: " + orjson.dumps(body) + b"\n\n"


def build_openai_router(
    service: ChatService, keys: ApiKeys, catalog: ModelCatalog, clock: Clock = SYSTEM_CLOCK
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["openai-compatible"])
    by_model_name = {model: name for name, model in catalog.models.items()}

    def provider_for(requested: str | None) -> str | None:
        if requested in catalog.names:
            return requested
        return by_model_name.get(requested or "")

    @router.get("/models", responses=UNAUTHORIZED)
    async def models(request: Request) -> dict[str, Any]:
        """The configured providers, by the names `model` accepts."""
        keys.require(request)
        return {
            "object": "list",
            "data": [
                {
                    "id": name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "ai-bot",
                    "root": catalog.models.get(name),
                }
                for name in catalog.names
            ],
        }

    @router.post(
        "/chat/completions",
        responses={
            **UNAUTHORIZED,
            200: SSE_ANSWER,
            400: {
                "model": OpenAIErrorBody | ParseError,
                "description": "Not JSON, or not a valid request (OpenAI's shape)",
            },
            413: {
                "model": ErrorBody,
                "description": "The body is larger than server.max_body_bytes",
            },
            502: {"model": OpenAIErrorBody, "description": "The model failed"},
            503: {"model": OpenAIErrorBody, "description": "Overloaded; retry after a second"},
        },
    )
    async def completions(body: CompletionBody, request: Request) -> Response:
        """OpenAI chat completions, streamed or not. `X-Session-Id` names a conversation."""
        who = keys.require(request)
        session = request.headers.get("x-session-id", "")[:128] or body.user
        users = [m for m in body.messages if m.role == "user"]
        if session and not users:
            return openai_error(400, "messages must contain a user message", "invalid_messages")
        provider = provider_for(body.model)
        inbound = Inbound(
            channel="openai",
            session_key=f"openai:{session or uuid.uuid4().hex}",
            user_id=body.user or session or "anonymous",
            text=users[-1].text() if users else "",
            request_id=uuid.uuid4().hex,
            received_at=clock.now(),
            principal=who,
            model=provider,
            max_tokens=body.max_completion_tokens or body.max_tokens,
            temperature=body.temperature,
            remember=session is not None,
            messages=[
                Message("system" if m.role == "developer" else m.role, m.text(), _reasoning(m))
                for m in body.messages
            ],
        )
        shaper = _Completion(
            body.model or provider or catalog.default or "default", inbound.received_at
        )
        if body.stream:
            include_usage = bool(body.stream_options and body.stream_options.include_usage)
            return StreamingResponse(
                _stream(service, inbound, shaper, include_usage),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        try:
            ctx = await service.handle(inbound)
        except (QueueFull, AccessDenied) as exc:
            return openai_failure(exc)
        if ctx.error is not None:
            return openai_failure(ModelUnavailable(ctx.error))
        return Response(orjson.dumps(shaper.full(ctx)), media_type="application/json")

    return router


def _reasoning(message: WireMessage) -> str | None:
    extra = message.model_extra or {}
    value = extra.get("reasoning_content")
    return value if isinstance(value, str) else None


async def _stream(
    service: ChatService, inbound: Inbound, shaper: _Completion, include_usage: bool
) -> AsyncIterator[bytes]:
    yield shaper.chunk({"role": "assistant", "content": ""})
    async for item in stream_turn(service, inbound):
        if isinstance(item, str):
            yield shaper.chunk({"content": item})
            continue
        ctx = item.ctx
        if ctx is None or ctx.error is not None:
            message = ctx.error if ctx is not None else str(item.exc)
            error = {
                "message": f"The model is unavailable: {message}",
                "type": "api_error",
                "param": None,
                "code": "model_unavailable",
            }
            yield b"data: " + orjson.dumps({"error": error}) + b"\n\n"
            return
        if ctx.is_command:
            yield shaper.chunk({"content": ctx.reply or ""})
        yield shaper.chunk({}, ctx.finish_reason or "stop")
        if include_usage:
            prompt, completion = ctx.usage.prompt_tokens, ctx.usage.completion_tokens
            yield shaper.chunk(
                {},
                usage={
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "total_tokens": prompt + completion,
                },
                empty=True,
            )
    yield b"data: [DONE]\n\n"
