"""Request and error shapes every JSON API of the gateway shares (REST, /v1, the generic
webhook), so one channel does not import another for them."""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from aibot.i18n import N_, Language, locale_hint, pick, translate
from aibot.ops.body_limit import TOO_LARGE

# A route's handler as plain Starlette: what the per-message path calls without FastAPI
# (gateway/hot_routes.py), and what FastAPI's router registers for the same route.
Endpoint = Callable[[Request], Awaitable[Response]]

SESSION_PATTERN = r"^[A-Za-z0-9_.:@\-]{1,128}$"


def unicode_only(data: Any) -> Any:
    """`data`, refused if a string in it holds a lone surrogate ("\\ud800"): JSON can carry
    one, UTF-8 cannot, so it passed validation and then failed where the text is stored or
    forwarded (a 500, found by fuzzing). Iterative: the nesting depth is the caller's."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            value.encode()  # UnicodeEncodeError is a ValueError: a validation error
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return data


class Body(BaseModel):
    """A body of the JSON APIs — a request, an answer, a refusal as the OpenAPI document
    describes it — built at its first use (`defer_build`), not at import: a start answers
    `/healthz` without any of them (issue 20, cold start), and the refusals' shapes, which only
    document answers made elsewhere (`error_response`), are built with the document alone."""

    model_config = ConfigDict(defer_build=True)


class JsonBody(Body):
    """A request body as the OpenAPI document describes it: strict types (no "12" for 12, no
    "true" for true) and text that UTF-8 can carry."""

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _unicode(cls, data: Any) -> Any:
        return unicode_only(data)


class InvalidBody(Exception):
    """A body that does not validate, with pydantic's errors located as FastAPI locates its
    own (`("body", field…)`). FastAPI's RequestValidationError would do, but raising it means
    importing FastAPI on the per-message path, which starts without it (gateway/asgi.py);
    the app answers both alike (gateway/errors.py)."""

    def __init__(self, errors: Sequence[Any]) -> None:
        super().__init__(errors)
        self._errors = errors

    def errors(self) -> Sequence[Any]:
        return self._errors


class ErrorDetail(Body):
    message: str
    code: str


class ErrorBody(Body):
    """The body of every refusal under /api/v1 (400, 401, 413, 422, 502, 503); the message is
    in the caller's language (Accept-Language)."""

    error: ErrorDetail


# Documented on every /api/v1 operation that takes a body, so the OpenAPI document says what
# a client gets back when it is refused (schemathesis checks each answer against it).
API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "The body cannot be read (a multipart form past its limits, or broken)",
    },
    401: {"model": ErrorBody, "description": "Missing or wrong API key"},
    413: {
        "model": ErrorBody,
        "description": "The body is larger than server.max_body_bytes, or the message longer "
        "than server.max_message_chars (code message_too_long)",
    },
    422: {"model": ErrorBody, "description": "The body does not match the schema"},
}
# Before OpenAPI 3.2 the schema of an event stream describes each event.
SSE_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "data": {
            "type": "string",
            "description": "One JSON object; /v1 ends the stream with [DONE]",
        }
    },
}
SSE_ANSWER: dict[str, Any] = {
    "content": {"text/event-stream": {"schema": SSE_EVENT}},
    "description": "The answer; Server-Sent Events with stream: true",
}


def error_response(
    status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "code": code}}, status_code=status, headers=headers
    )


# Every refusal of the REST API (`POST /api/v1/chat`, `/api/v1/token`), the webhook channel
# (`POST /api/v1/messages`) and the page's uploads (`POST /web/upload`, whose message the page
# shows), by its code: said in the caller's language, as their attachment refusals are
# (`attachment_<reason>`, core/media_replies.py). `/v1` keeps OpenAI's words.
REFUSALS: dict[str, str] = {
    "invalid_api_key": N_("Missing or invalid API key (Authorization: Bearer <key>)."),
    "invalid_request": N_("The request body is not valid: {problems}"),
    "unreadable_body": N_("The request body cannot be read: {problem}"),
    "body_too_large": TOO_LARGE,  # said by the body limit itself (ops/body_limit.py)
    "message_too_long": N_(
        "The message has {length} characters; the limit is {limit} (server.max_message_chars)."
    ),
    "overloaded": N_("The gateway is busy. Please try again in a moment."),
    "store_unavailable": N_("The store is unavailable. Please try again in a moment."),
    "model_unavailable": N_("The model is unavailable: {reason}"),
    "scope_not_allowed": N_("This key may only get tokens of scope {scope}."),
    "rate_limit_exceeded": N_("This key asked for more than {n} tokens in a minute."),
    "cross_origin": N_("Uploads from another site are refused."),
    "invalid_session": N_("A valid session_id is required."),
    "no_file": N_("The form holds no file."),
    "internal_error": N_(
        "The gateway failed to answer (request {request_id}); the details are in its log."
    ),
}


def caller_language(headers: Headers) -> Language:
    """The language of an HTTP caller: `Accept-Language`, else `ui.default_language`."""
    return pick(locale_hint(headers.get("accept-language")))


def refusal(
    request: Request,
    status: int,
    code: str,
    headers: dict[str, str] | None = None,
    **values: object,
) -> JSONResponse:
    """The refusal `code` (a key of `REFUSALS`) in the caller's language."""
    message = translate(caller_language(request.headers), REFUSALS[code], **values)
    return error_response(status, message, code, headers)


def message_too_long(request: Request, text: str, limit: int) -> JSONResponse | None:
    """413 `message_too_long` for a message over `server.max_message_chars`, else None."""
    if len(text) <= limit:
        return None
    return refusal(request, 413, "message_too_long", length=len(text), limit=limit)
