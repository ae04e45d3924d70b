"""OpenAI's wire format: SSE framing, error bodies and statuses, cut and dropped responses."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.openai_answers import (
    last_user_text,
)

JSON = dict[str, Any]
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
GARBAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"


# What OpenAI puts in `error.type` / `error.code` and says for the statuses tests script.
_ERROR_SHAPES: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    422: ("invalid_request_error", None, "Unprocessable request."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


# --------------------------------------------------------------------------- helpers


def error_body(
    status: int, message: str | None = None, param: str | None = None, code: str | None = None
) -> bytes:
    """OpenAI's error JSON for ``status``, so clients parse our errors like the real ones."""
    fallback = ("invalid_request_error" if status < 500 else "server_error", None, "Error.")
    err_type, default_code, default = _ERROR_SHAPES.get(status, fallback)
    return orjson.dumps(
        {
            "error": {
                "message": message or default,
                "type": err_type,
                "param": param,
                "code": code or default_code,
            }
        }
    )


def echo_last_user(body: JSON) -> str:
    """Default reply: echo the last user message, which makes routing visible in assertions."""
    return "echo: " + last_user_text(body)


def count_tokens(text: str) -> int:
    """A rough token count (~4 characters a token); usage only has to be plausible and stable."""
    return len(text) // 4 + 1


def split_text(text: str, size: int, forced_cuts: tuple[int, ...] = ()) -> list[str]:
    """Cut ``text`` every ``size`` characters and at ``forced_cuts`` (to split tags on purpose)."""
    cuts = sorted({*range(0, len(text), size), *(c for c in forced_cuts if 0 < c < len(text))})
    return [text[a:b] for a, b in itertools.pairwise([*cuts, len(text)])]


def sse(obj: JSON) -> bytes:
    """One server-sent event line carrying ``obj``."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _json_response(obj: JSON) -> web.Response:
    return web.Response(body=orjson.dumps(obj), content_type="application/json")


def _error(
    status: int,
    message: str | None = None,
    param: str | None = None,
    code: str | None = None,
    *,
    retry_after: float | None = None,
) -> web.Response:
    """An OpenAI-shaped error response, with ``Retry-After`` when the caller should wait (and
    OpenAI's rate-limit headers on a 429)."""
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    if status == 429:
        headers |= {"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0"}
    return web.Response(
        status=status,
        body=error_body(status, message, param, code),
        content_type="application/json",
        headers=headers,
    )


async def _truncated(request: web.Request, payload: bytes) -> web.StreamResponse:
    """Promise ``payload`` in Content-Length, send half of it, then drop the connection."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.content_length = len(payload)
    await resp.prepare(request)
    await resp.write(payload[: len(payload) // 2])
    _drop(request)
    return resp


def _drop(request: web.Request) -> None:
    """Close the socket after the bytes already written; aiohttp then skips the response end."""
    if request.transport is not None:
        request.transport.close()
