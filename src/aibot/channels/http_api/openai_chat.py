"""`POST /v1/chat/completions` as a plain Starlette handler, and what it shares with the
other /v1 routes (which `model` names which provider): the per-message path calls it without
importing FastAPI (gateway/hot_routes.py), and `openai_api.build_openai_router` registers the
same function for the app's other routes and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from aibot.channels.api_keys import ApiKeys
from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.http_api.openai_errors import failure_response, openai_error, refusal_response
from aibot.channels.http_api.openai_request import (
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
from aibot.channels.http_bodies import Endpoint
from aibot.channels.identity import api_caller, random_id
from aibot.core.commands import ModelCatalog
from aibot.core.errors import AccessDenied, ModelUnavailable, QueueFull
from aibot.core.messages import Inbound, ReplyTarget
from aibot.core.pipeline import TurnContext
from aibot.core.service import ChatService, StreamEnd, stream_events

CHANNEL = "openai"


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


def completions_endpoint(
    service: ChatService,
    keys: ApiKeys,
    names: ModelNames,
    *,
    key_tools: Mapping[str, Sequence[str]] | None = None,
    clock: Clock = SYSTEM_CLOCK,
) -> Endpoint:
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

    return completions


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
