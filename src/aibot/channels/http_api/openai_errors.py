"""Errors of `/v1` exactly as OpenAI gives them, so clients raise the class they expect.

Every error is `{"error": {"message", "type", "param", "code"}}` with OpenAI's status: the SDKs
pick `RateLimitError`, `BadRequestError`, `NotFoundError`… from the status alone, and retry on
429 after `Retry-After`. Messages are English, as OpenAI's are: these are API errors read by
programs (chat-visible refusals elsewhere keep the translation catalog).

What a model call's failure becomes:
- the vendor refused the request itself (400, 404, 413, 422…): that status and the vendor's
  error, as it came (it was neither retried nor sent to another provider);
- the vendor rate-limited us (429, after our retries): 429 with `Retry-After`;
- the vendor refused the gateway's own key or account (401, 402, 403), failed (5xx), timed out
  or broke the connection: 502, with the reason (a fault of the gateway's upstream, not the
  caller's credentials);
- no provider can be tried (circuits open): 503 with `Retry-After`.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.responses import JSONResponse

from aibot.channels.http_bodies import Body
from aibot.core.errors import AccessDenied, ModelUnavailable, QueueFull

# A gateway refusal (policy stages' `refusal`) as OpenAI's status, code, type and message.
_REFUSALS: dict[str, tuple[int, str, str, str]] = {
    "rate_limit": (
        429,
        "rate_limit_exceeded",
        "requests",
        "Rate limit reached for requests. Please try again in {retry}s.",
    ),
    "quota": (
        429,
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota of tokens for today. Please try again in {retry}s.",
    ),
    "sensitive_words": (
        400,
        "content_filter",
        "invalid_request_error",
        "Your request was rejected by the gateway's content filter.",
    ),
    "access": (403, "permission_denied", "invalid_request_error", "This caller is not allowed."),
}


class OpenAIErrorDetail(Body):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorBody(Body):
    """OpenAI's error shape, which its clients parse."""

    error: OpenAIErrorDetail


def error_object(
    message: str, code: str | None, kind: str = "invalid_request_error", param: str | None = None
) -> dict[str, Any]:
    return {"message": message, "type": kind, "param": param, "code": code}


def openai_error(
    status: int,
    message: str,
    code: str | None,
    kind: str = "invalid_request_error",
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": error_object(message, code, kind, param)}, status_code=status, headers=headers
    )


def error_event(error: dict[str, Any]) -> bytes:
    """A failure after a stream started: OpenAI's error event; `[DONE]` follows it."""
    return b"data: " + orjson.dumps({"error": error}) + b"\n\n"


def refusal_response(reason: str, retry_after: float | None) -> JSONResponse:
    """A policy's refusal (rate limit, quota, sensitive words…) as OpenAI's error."""
    status, code, kind, text = _REFUSALS.get(reason, _REFUSALS["access"])
    wait = max(1, math.ceil(retry_after or 0))
    headers = {"Retry-After": str(wait)} if status == 429 else None
    return openai_error(status, text.format(retry=wait), code, kind, headers)


def failure_status(exc: ModelUnavailable) -> tuple[int, dict[str, Any], dict[str, str] | None]:
    """The status, error object and headers a failed model call is answered with."""
    status = exc.status
    if status == 429:
        wait = str(max(1, math.ceil(exc.retry_after or 1)))
        detail = exc.detail or error_object(str(exc), "rate_limit_exceeded", "requests")
        return (
            429,
            {**detail, "code": detail.get("code") or "rate_limit_exceeded"},
            {"Retry-After": wait},
        )
    if status is not None and 400 <= status < 500 and status not in (401, 402, 403, 408):
        return status, exc.detail or error_object(str(exc), None), None
    if status == 503 and exc.retry_after is not None:
        wait = str(max(1, math.ceil(exc.retry_after)))
        detail = error_object(
            f"The model is unavailable: {exc}", "model_unavailable", "server_error"
        )
        return 503, detail, {"Retry-After": wait}
    return (
        502,
        error_object(f"The model is unavailable: {exc}", "model_unavailable", "api_error"),
        None,
    )


def failure_response(exc: BaseException) -> JSONResponse:
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
        status, detail, headers = failure_status(exc)
        return JSONResponse({"error": detail}, status_code=status, headers=headers)
    raise exc


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, all in OpenAI's shape."""
    words = {
        400: "Not a valid request, refused by the content filter, or refused by the model's vendor",
        401: "Missing or wrong API key",
        403: "This key may not use that model",
        404: "No such model (or path)",
        413: "The body is larger than server.max_body_bytes",
        429: "Rate limit or quota (the gateway's or the vendor's); see Retry-After",
        502: "The model's vendor failed",
        503: "Overloaded, or no provider can answer now; see Retry-After",
    }
    return {s: {"model": OpenAIErrorBody, "description": words[s]} for s in statuses}
