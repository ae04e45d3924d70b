"""The OpenAI-compatible API (`/v1/chat/completions`, `/v1/models`, `/v1/embeddings`): any
OpenAI client works against the gateway, as if it spoke to the vendor.

Stateless by default, a faithful proxy: the caller's body goes to the provider with only what
its vendor needs changed (`providers/passthrough.py`), and the provider's answer comes back as
it came, streamed events included. The policies still run (sensitive words on the text, limits
and quotas on the key and the end user, routes, audit and metrics, fallbacks), but a stateless
call is never a chat command. `X-Session-Id` (or `metadata.session_id`) turns memory on: the
gateway then keeps the conversation and supplies its history; a request that carries its own
history (any assistant or tool message) is sent as it is, and only the new exchange is kept.
`user` is the end user, never a conversation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response, StreamingResponse

from aibot.channels.api_keys import ApiKeys
from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.http_api.openai_errors import (
    documented,
    failure_response,
    openai_error,
    refusal_response,
)
from aibot.channels.http_api.openai_request import (
    SCHEMA,
    BadRequest,
    check_chat,
    check_lengths,
    last_user_text,
    read_body,
    session_of,
)
from aibot.channels.http_api.openai_shapes import (
    GatewayAnswer,
    answer_bytes,
    gateway_stream,
    relay,
)
from aibot.channels.http_bodies import SSE_ANSWER
from aibot.channels.identity import api_caller, random_id
from aibot.core.commands import ModelCatalog
from aibot.core.errors import AccessDenied, ModelUnavailable, QueueFull
from aibot.core.messages import Inbound, ReplyTarget
from aibot.core.pipeline import TurnContext
from aibot.core.service import ChatService, StreamEnd, stream_events

CHANNEL = "openai"


class Embedder(Protocol):
    async def embeddings(self, body: dict[str, Any], provider_name: str | None) -> bytes: ...


class ModelNames:
    """Which provider a request's `model` means: a provider's name, its model id, or an alias;
    and which of them an API key may use (`api.key_models`; unlisted keys may use all)."""

    def __init__(
        self,
        catalog: ModelCatalog,
        aliases: Mapping[str, str],
        key_models: Mapping[str, Sequence[str]],
    ) -> None:
        self._catalog = catalog
        self._names = {
            **{model: name for name, model in catalog.models.items()},
            **{alias: name for alias, name in aliases.items() if name in catalog.names},
            **{name: name for name in catalog.names},
        }
        self._allowed = {key: frozenset(models) for key, models in key_models.items()}

    def resolve(self, requested: str, principal: str) -> str | None:
        name = self._names.get(requested)
        allowed = self._allowed.get(principal)
        if name is None or (allowed is not None and name not in allowed):
            return None
        return name

    def visible(self, principal: str) -> list[str]:
        allowed = self._allowed.get(principal)
        return [n for n in self._catalog.names if allowed is None or n in allowed]


def not_found(requested: object) -> JSONResponse:
    return openai_error(
        404,
        f"The model `{requested}` does not exist or you do not have access to it.",
        "model_not_found",
        param="model",
    )


def build_openai_router(
    service: ChatService,
    keys: ApiKeys,
    catalog: ModelCatalog,
    embedder: Embedder,
    *,
    aliases: Mapping[str, str] | None = None,
    key_models: Mapping[str, Sequence[str]] | None = None,
    key_tools: Mapping[str, Sequence[str]] | None = None,
    owners: Mapping[str, str] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["openai-compatible"])
    names = ModelNames(catalog, aliases or {}, key_models or {})
    created = int(clock.now())

    def model_object(name: str) -> dict[str, Any]:
        return {
            "id": name,
            "object": "model",
            "created": created,
            "owned_by": (owners or {}).get(name, "ai-bot"),
        }

    @router.get("/models", responses=documented(401))
    async def models(request: Request) -> dict[str, Any]:
        """The configured providers this key may use, by the names `model` accepts."""
        who = keys.require(request)
        return {"object": "list", "data": [model_object(n) for n in names.visible(who)]}

    @router.get("/models/{model_id:path}", responses=documented(400, 401, 404))
    async def model(
        request: Request, model_id: Annotated[str, PathParam(max_length=256)]
    ) -> Response:
        """One model, or 404 `model_not_found`."""
        who = keys.require(request)
        if model_id not in names.visible(who):
            return not_found(model_id)
        return JSONResponse(model_object(model_id))

    @router.post(
        "/embeddings",
        openapi_extra={"requestBody": _body_doc({"type": "object"})},
        responses=documented(400, 401, 404, 413, 429, 502),
    )
    async def embeddings(request: Request) -> Response:
        """Embeddings from the provider `model` names (its preset's embedding model)."""
        who = keys.require(request)
        try:
            body = read_body(await request.body())
        except BadRequest as exc:
            return openai_error(400, str(exc), None, param=exc.param)
        provider = names.resolve(str(body.get("model") or ""), who)
        if provider is None:
            return not_found(body.get("model"))
        try:
            raw = await embedder.embeddings(body, provider)
        except ModelUnavailable as exc:
            return failure_response(exc)
        return Response(raw, media_type="application/json")

    @router.post(
        "/chat/completions",
        openapi_extra={"requestBody": _body_doc(SCHEMA)},
        responses={200: SSE_ANSWER, **documented(400, 401, 404, 413, 429, 502, 503)},
    )
    async def completions(request: Request) -> Response:
        """OpenAI chat completions, streamed or not; `X-Session-Id` turns on memory."""
        who = keys.require(request)
        try:
            body = read_body(await request.body())
            check_chat(body)
            check_lengths(body, service.max_message_chars)
            session = session_of(body, request.headers.get("x-session-id"))
        except BadRequest as exc:
            return openai_error(400, str(exc), exc.code, param=exc.param)
        provider = names.resolve(body["model"], who)
        if provider is None:
            return not_found(body["model"])
        text = last_user_text(body)
        if session is not None and not any(m.get("role") == "user" for m in body["messages"]):
            return openai_error(400, "messages must contain a user message", None, param="messages")
        caller = api_caller(CHANNEL, who, body.get("user"), session)
        inbound = Inbound(
            channel=CHANNEL,
            session_key=caller.session_key,
            user_id=caller.user_id,
            text=text,
            request_id=getattr(request.state, "request_id", None) or random_id(),
            received_at=clock.now(),
            principal=who,
            target=ReplyTarget(chat_id=who),  # per-chat limits apply to the key
            model=provider,
            remember=session is not None,
            wire=body,
            # The gateway's tools, in a remembered conversation of a key allowed them, when
            # the caller brings none; otherwise its own tools pass through untouched.
            tool_scope=tuple((key_tools or {}).get(who, ()))
            if session is not None and not body.get("tools")
            else (),
        )
        shaper = GatewayAnswer(body["model"], inbound.received_at)
        if body.get("stream"):
            options = body.get("stream_options") or {}
            return await _streamed(service, inbound, shaper, bool(options.get("include_usage")))
        try:
            ctx = await service.handle(inbound)
        except (QueueFull, AccessDenied) as exc:
            return failure_response(exc)
        refused = _refused(ctx)
        if refused is not None:
            return refused
        return Response(answer_bytes(ctx, shaper), media_type="application/json")

    return router


def _refused(ctx: TurnContext) -> Response | None:
    """A policy's refusal or a failed model call, as OpenAI's error; None for an answer."""
    if ctx.refusal is not None:
        return refusal_response(ctx.refusal, ctx.retry_after)
    if ctx.error is not None:
        return failure_response(ctx.failure or ModelUnavailable(ctx.error))
    return None


async def _streamed(
    service: ChatService, inbound: Inbound, shaper: GatewayAnswer, include_usage: bool
) -> Response:
    """The HTTP status waits for the first event: a refusal or a failure before the answer
    started is an error response (429 with Retry-After, 400…), not a 200 stream."""
    events = stream_events(service, inbound)
    first = await anext(events)
    if isinstance(first, StreamEnd):
        ctx = first.ctx
        if ctx is None:
            assert first.exc is not None
            return failure_response(first.exc)
        refused = _refused(ctx)
        if refused is not None:
            return refused
        body = gateway_stream(shaper.chunks(ctx, include_usage))
    else:
        body = relay(first, events, include_usage)
    return StreamingResponse(
        body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}
