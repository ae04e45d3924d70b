"""How the gateway answers what went wrong before or around a handler: a missing key, a body
that does not validate, a store that is down — in OpenAI's error shape and words under /v1,
ours in the caller's language elsewhere (channels/http_bodies.py `REFUSALS`).

The handlers are plain Starlette, so the per-message path uses them without importing FastAPI
(gateway/hot_routes.py); `install_error_handlers` gives the same ones to the full app, and
`UnexpectedAsJson` its answer to an error no handler names.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import structlog
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aibot.channels.api_keys import ApiKeys, bearer_token
from aibot.channels.http_api.openai_errors import openai_error
from aibot.channels.http_bodies import InvalidBody, refusal
from aibot.core.errors import AccessDenied, CoordinationUnavailable

if TYPE_CHECKING:
    from fastapi import FastAPI

log = structlog.get_logger("aibot")

KEYED_PREFIXES = ("/v1/", "/api/v1/")  # every route under these requires an API key

Handler = Callable[[Request, Any], Awaitable[Response]]
H = TypeVar("H")


class Invalid(Protocol):
    """A body that does not validate: ours (InvalidBody) or FastAPI's RequestValidationError."""

    def errors(self) -> Sequence[Any]: ...


def error_handlers(keys: ApiKeys) -> dict[type[Exception], Handler]:
    """OpenAI clients expect OpenAI's error shape under /v1; everything else gets ours."""

    async def denied(request: Request, _exc: AccessDenied | None = None) -> JSONResponse:
        if request.url.path.startswith("/v1/"):
            return openai_error(401, "Incorrect API key provided.", "invalid_api_key")
        return refusal(request, 401, "invalid_api_key")

    async def invalid(request: Request, exc: Invalid) -> JSONResponse:
        # FastAPI validates the body before the handler checks the key: a caller without a
        # valid key learns nothing about the API from a validation error, only 401.
        path = request.url.path
        if path.startswith(KEYED_PREFIXES) and keys.principal(bearer_token(request), path) is None:
            return await denied(request)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        if request.url.path.startswith("/v1/"):
            return openai_error(400, problems, "invalid_request")
        return refusal(request, 422, "invalid_request", problems=problems)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Under /v1 an unknown path or method is refused in OpenAI's shape and words, to a
        caller with a valid key: others learn nothing about the API, only 401."""
        path = request.url.path
        if path.startswith("/api/v1/") and exc.status_code == 400:
            # A body Starlette could not parse (a multipart form past its limits or broken).
            return refusal(request, 400, "unreadable_body", problem=exc.detail)
        if not path.startswith("/v1/"):
            # Only the full app raises these (the per-message path raises none): FastAPI is
            # imported by then.
            from fastapi.exception_handlers import http_exception_handler

            return await http_exception_handler(request, exc)
        if keys.principal(bearer_token(request), path) is None:
            return await denied(request)
        if exc.status_code == 404:
            message = f"Invalid URL ({request.method} {path})"
        else:
            message = str(exc.detail)
        return openai_error(exc.status_code, message, None, headers=dict(exc.headers or {}))

    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        """The database (or the Redis replicas coordinate through) is restarting or
        unreachable: a prompt 503 that the caller (or the platform's re-delivery) retries,
        instead of a bare 500 and a dropped connection."""
        log.warning(
            "request failed: the store is unavailable", path=request.url.path, error=str(exc)[:300]
        )
        headers = {"Retry-After": "1"}
        if request.url.path.startswith("/v1/"):
            message = "the store is unavailable; try again in a moment"
            return openai_error(503, message, "store_unavailable", "server_error", headers)
        return refusal(request, 503, "store_unavailable", headers)

    # asyncpg's refused or reset connections reach us unwrapped; SQLAlchemy's errors are
    # answered by this one too (`handler_for`, `install_error_handlers`).
    return {
        AccessDenied: denied,
        InvalidBody: invalid,
        StarletteHTTPException: http_error,
        ConnectionError: store_down,
        CoordinationUnavailable: store_down,
    }


def _sqlalchemy_store_errors() -> tuple[type[Exception], ...]:
    """SQLAlchemy's errors of a database that is down or out of connections, once SQLAlchemy
    is loaded: a gateway on a SQLite file serves before it is (store/database.py), and until
    then no statement has run through it that could raise one."""
    loaded = sys.modules.get("sqlalchemy.exc")
    return () if loaded is None else (loaded.DBAPIError, loaded.TimeoutError)


def handler_for(handlers: Mapping[Any, H], exc: Exception) -> H | None:
    """The app's handler for `exc`'s class or its nearest base, as Starlette looks it up; the
    store's for SQLAlchemy's errors of an unavailable database."""
    for kind in type(exc).__mro__:
        if kind in handlers and kind is not Exception:
            return handlers[kind]
    if isinstance(exc, _sqlalchemy_store_errors()):
        return handlers.get(ConnectionError)
    return None


def install_error_handlers(app: FastAPI, handlers: dict[type[Exception], Handler]) -> None:
    """The same handlers on the full app, FastAPI's own validation error answered as ours.
    FastAPI looks handlers up by class: SQLAlchemy's are imported here (the full app is
    built at its first request, as the store's engine is used)."""
    from fastapi.exceptions import RequestValidationError
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
    for kind in (DBAPIError, SQLAlchemyTimeoutError):
        app.add_exception_handler(kind, handlers[ConnectionError])
    app.add_exception_handler(RequestValidationError, handlers[InvalidBody])


def unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A per-message endpoint failed in a way no handler names (a bug, or a driver's error
    class nobody mapped yet): the traceback goes to the log under the request's id and the
    caller still gets the JSON error every API answer promises — OpenAI's 500 under /v1, ours
    in the caller's language elsewhere — instead of the server's plain-text 500."""
    request_id = request.scope.get("state", {}).get("request_id", "-")
    log.error("request failed", path=request.url.path, request_id=request_id, exc_info=exc)
    if request.url.path.startswith("/v1/"):
        message = "The server had an error while processing your request. Sorry about that!"
        return openai_error(500, message, None, "server_error")
    return refusal(request, 500, "internal_error", request_id=request_id)


class UnexpectedAsJson:
    """The full app's answer to an error no handler names under the API's paths: the one the
    per-message endpoints give (`unexpected`), where Starlette's server error layer answered
    a plain-text "Internal Server Error" that neither an OpenAI SDK nor a REST client can
    read, and the server logged the traceback a second time.

    It sits inside `ApiEdge` (gateway/full_app.py), so the answer carries the request id it
    names, CORS and the secret mask as every API answer does. An error after the answer has
    started (a stream) can no longer be answered: it goes up to the server, as on the
    per-message path. Pages and platform webhooks keep the server's answer; GraphQL answers
    in its own shape."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(KEYED_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started:
                raise
            await unexpected(Request(scope, receive), exc)(scope, receive, send)
