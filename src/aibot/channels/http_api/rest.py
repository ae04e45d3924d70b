"""`POST /api/v1/chat`: the simple REST form, JSON or SSE, with server-kept memory per session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from aibot.channels.api_keys import ApiKeys
from aibot.channels.base import SYSTEM_CLOCK, Clock
from aibot.channels.http_bodies import (
    API_ERRORS,
    REFUSALS,
    SESSION_PATTERN,
    SSE_ANSWER,
    Body,
    Endpoint,
    ErrorBody,
    InvalidBody,
    JsonBody,
    caller_language,
    message_too_long,
    refusal,
)
from aibot.channels.identity import api_caller, random_id
from aibot.channels.uploads import (
    MAX_ATTACHMENTS,
    AttachmentBody,
    attachment_refusal,
    form_files,
    store_base64,
    store_files,
)
from aibot.core.errors import AccessDenied, ModelUnavailable, QueueFull
from aibot.core.media import MediaRefused, UploadStore
from aibot.core.messages import Attachment, Inbound, ReplyTarget
from aibot.core.pipeline import TurnContext
from aibot.core.service import ChatService, StreamEnd, stream_turn
from aibot.i18n import Language, locale_hint, translate

if TYPE_CHECKING:
    from fastapi import APIRouter

# A message needs text or at least one attachment: said in the schema as well as checked.
_TEXT_OR_ATTACHMENT: dict[str, Any] = {
    "anyOf": [
        {"required": ["message"], "properties": {"message": {"minLength": 1}}},
        {"required": ["attachments"], "properties": {"attachments": {"minItems": 1}}},
    ]
}


class ChatBody(JsonBody):
    model_config = ConfigDict(
        strict=True, validate_default=True, json_schema_extra=_TEXT_OR_ATTACHMENT
    )

    session_id: str = Field(pattern=SESSION_PATTERN, description="Conversation to continue.")
    attachments: list[AttachmentBody] = Field(
        default_factory=list,
        max_length=MAX_ATTACHMENTS,
        description="Pictures, voice notes or files, base64 (or send multipart/form-data).",
    )
    message: str = Field(
        "",
        description="The user's message, at most server.max_message_chars long "
        "(may be empty with attachments).",
    )
    user_id: str | None = Field(
        None, max_length=255, description="End user, within your key; default: the key itself."
    )
    stream: bool = Field(False, description="Answer as Server-Sent Events.")

    @field_validator("message")
    @classmethod
    def _text_or_attachment(cls, value: str, info: ValidationInfo) -> str:
        """Checked here so that every problem of a body is reported at once; multipart files
        are counted by the caller (`context`)."""
        files = (info.context or {}).get("files", 0)
        if not value and not info.data.get("attachments") and not files:
            raise ValueError("a message or an attachment is required")
        return value


class ChatReply(Body):
    reply: str
    session_id: str
    model: str | None
    provider: str | None
    usage: dict[str, int]
    command: bool


def failure_response(request: Request, exc: BaseException) -> JSONResponse:
    """Maps what can go wrong in a turn to a status a client can act on."""
    if isinstance(exc, QueueFull):
        return refusal(request, 503, "overloaded", {"Retry-After": "1"})
    if isinstance(exc, AccessDenied):
        return refusal(request, 401, "invalid_api_key")
    if isinstance(exc, ModelUnavailable):
        return refusal(request, 502, "model_unavailable", reason=exc)
    raise exc


def reply_body(ctx: TurnContext, session_id: str) -> dict[str, Any]:
    """`ChatReply` as the dict its `model_dump` makes, built straight: every field is already
    of its type, and the model's construction and dump were a third of this handler's own
    CPU per message (issue 20). `ChatReply` stays the schema of the OpenAPI document."""
    return {
        "reply": ctx.reply or "",
        "session_id": session_id,
        "model": ctx.model,
        "provider": ctx.provider,
        "usage": {
            "prompt_tokens": ctx.usage.prompt_tokens,
            "completion_tokens": ctx.usage.completion_tokens,
        },
        "command": ctx.is_command,
    }


async def read_chat(
    request: Request, uploads: UploadStore
) -> tuple[ChatBody, tuple[Attachment, ...]]:
    """The body, JSON or multipart, validated as `ChatBody`, and its attachments stored."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=MAX_ATTACHMENTS, max_fields=20) as form:
            fields = {k: v for k, v in form.multi_items() if isinstance(v, str)}
            files = form_files(form)
            context = {"files": len(files)}
            body = _validated(
                lambda: ChatBody.model_validate(_form_fields(fields), context=context)
            )
            attachments = await store_files(uploads, files)
    else:
        raw = await request.body()
        body = _validated(lambda: ChatBody.model_validate_json(raw or b"null"))
        attachments = await store_base64(uploads, body.attachments)
    return body, attachments


def _form_fields(fields: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: v for k, v in fields.items() if k in ("session_id", "message")}
    if "user_id" in fields:
        out["user_id"] = fields["user_id"]
    out["stream"] = fields.get("stream", "").lower() in ("1", "true", "yes")
    return out


def _validated(parse: Any) -> ChatBody:
    try:
        body: ChatBody = parse()
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise InvalidBody(errors) from None
    return body


def _inline_schema() -> dict[str, Any]:
    """ChatBody's JSON Schema with its one nested model written in place (no $defs)."""
    schema = ChatBody.model_json_schema()
    defs = schema.pop("$defs", {})
    items = schema["properties"]["attachments"]["items"]
    schema["properties"]["attachments"]["items"] = defs[items["$ref"].rsplit("/", 1)[-1]]
    return schema


def chat_request_doc() -> dict[str, Any]:
    """The request body in the OpenAPI document: made when the document's app is built, not
    at import (the per-message path imports this module)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _inline_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["session_id"],
                        "anyOf": [
                            {"required": ["message"], "properties": {"message": {"minLength": 1}}},
                            {"required": ["file"], "properties": {"file": {"minItems": 1}}},
                        ],
                        "properties": {
                            "session_id": {"type": "string", "pattern": SESSION_PATTERN},
                            "message": {"type": "string"},
                            "user_id": {"type": "string", "maxLength": 255},
                            "stream": {"type": "string", "enum": ["true", "false"]},
                            "file": {
                                "type": "array",
                                "maxItems": MAX_ATTACHMENTS,
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    }
                },
            },
        }
    }


def _sse(data: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(data) + b"\n\n"


def build_rest_router(chat: Endpoint) -> APIRouter:
    """The route of `chat` (made by `chat_endpoint`) for FastAPI, with its OpenAPI document."""
    from fastapi import APIRouter

    router = APIRouter(tags=["chat"])
    router.post(
        "/api/v1/chat",
        response_model=ChatReply,
        responses={
            **API_ERRORS,
            200: SSE_ANSWER,
            502: {"model": ErrorBody, "description": "The model failed"},
            503: {"model": ErrorBody, "description": "Overloaded; retry after the given seconds"},
        },
        openapi_extra=chat_request_doc(),
    )(chat)
    return router


def chat_endpoint(
    service: ChatService, keys: ApiKeys, uploads: UploadStore, clock: Clock = SYSTEM_CLOCK
) -> Endpoint:
    """`POST /api/v1/chat` as a plain Starlette handler: the per-message path calls it
    straight (gateway/hot_routes.py), FastAPI's router registers it (`build_rest_router`)."""

    async def chat(request: Request) -> Response:
        """Send one message to a conversation; the gateway keeps its memory. Attachments come
        base64 in JSON (`attachments`) or as files of a multipart/form-data body."""
        who = keys.require(request)
        try:
            body, attachments = await read_chat(request, uploads)
        except MediaRefused as refused:
            return attachment_refusal(request, refused)
        too_long = message_too_long(request, body.message, service.max_message_chars)
        if too_long is not None:
            return too_long
        caller = api_caller("api", who, body.user_id, body.session_id)
        inbound = Inbound(
            channel="api",
            session_key=caller.session_key,
            user_id=caller.user_id,
            text=body.message,
            request_id=getattr(request.state, "request_id", None) or random_id(),
            received_at=clock.now(),
            principal=who,
            target=ReplyTarget(
                chat_id=who,  # per-chat limits apply to the key
                locale=locale_hint(request.headers.get("accept-language")),
            ),
            attachments=attachments,
        )
        if body.stream:
            return StreamingResponse(
                _events(service, inbound, body.session_id, caller_language(request.headers)),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        try:
            ctx = await service.handle(inbound)
        except (QueueFull, AccessDenied) as exc:
            return failure_response(request, exc)
        if ctx.error is not None:
            return refusal(request, 502, "model_unavailable", reason=ctx.error)
        return Response(
            orjson.dumps(reply_body(ctx, body.session_id)), media_type="application/json"
        )

    return chat


async def _events(
    service: ChatService, inbound: Inbound, session_id: str, language: Language
) -> AsyncIterator[bytes]:
    async for item in stream_turn(service, inbound):
        if isinstance(item, str):
            yield _sse({"type": "delta", "text": item})
            continue
        yield _sse(_final_event(item, session_id, language))


def _final_event(end: StreamEnd, session_id: str, language: Language) -> dict[str, Any]:
    """`done` with the reply, or `error` with the refusal the JSON answer would have given."""
    if end.ctx is not None and end.ctx.error is None:
        return {"type": "done", **reply_body(end.ctx, session_id)}
    code, values = "model_unavailable", {"reason": end.ctx.error if end.ctx else end.exc}
    if isinstance(end.exc, QueueFull):
        code, values = "overloaded", {}
    elif isinstance(end.exc, AccessDenied):
        code, values = "invalid_api_key", {}
    message = translate(language, REFUSALS[code], **values)
    return {"type": "error", "message": message, "code": code}
