"""Request parameters typed as the Bot API server types them, and the JSON envelopes of answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.telegram_api.protocol import JSON, ApiError

_INT_PARAMS = frozenset(
    {
        "offset",
        "limit",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "max_connections",
        "draft_id",
        "from_chat_id",
        "user_id",
    }
)
_FLOAT_PARAMS = frozenset({"timeout"})
_BOOL_PARAMS = frozenset(
    {
        "drop_pending_updates",
        "disable_notification",
        "protect_content",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "allow_paid_broadcast",
    }
)
_JSON_PARAMS = frozenset(
    {
        "allowed_updates",
        "reply_parameters",
        "reply_markup",
        "link_preview_options",
        "entities",
        "commands",
        "scope",
    }
)


def _coerce(name: str, value: Any) -> Any:
    """Type one parameter the way the Bot API server reads it from a form or query string."""
    if not isinstance(value, str):
        return value
    try:
        if name in _JSON_PARAMS:
            return orjson.loads(value)
        if name in _INT_PARAMS:
            return int(value)
        if name in _FLOAT_PARAMS:
            number = float(value)
            return int(number) if number.is_integer() else number
        if name in _BOOL_PARAMS:
            return value.strip().lower() in ("true", "1")
        if name == "chat_id" and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
    except (ValueError, orjson.JSONDecodeError):
        raise ApiError(400, f"Bad Request: can't parse {name}") from None  # [?] exact text
    return value


@dataclass(frozen=True, slots=True)
class _WithDescription:
    """A successful result that Telegram accompanies with a ``description`` (setWebhook)."""

    result: Any
    description: str


def _is_entity(e: Any) -> bool:
    return (
        isinstance(e, dict)
        and isinstance(e.get("type"), str)
        and isinstance(e.get("offset"), int)
        and isinstance(e.get("length"), int)
    )


def _safe_coerce(name: str, value: Any) -> Any:
    try:
        return _coerce(name, value)
    except ApiError:
        return value


async def _read_params(request: web.Request) -> JSON:
    """Query string plus body (JSON, form or multipart), typed as the Bot API server reads them."""
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.read()
            try:
                decoded = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError:
                raise ApiError(400, "Bad Request: can't parse JSON object") from None  # [?]
            if not isinstance(decoded, dict):
                raise ApiError(400, "Bad Request: can't parse JSON object")  # [?]
            raw.update(decoded)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                raw[key] = (
                    value if isinstance(value, str) else f"<file {getattr(value, 'filename', '?')}>"
                )
    params: JSON = {}
    for key, value in raw.items():
        params[key] = _coerce(key, value)
    return params


def _ok(result: Any, description: str | None = None) -> web.Response:
    body: JSON = {"ok": True, "result": result}
    if description is not None:
        body["description"] = description
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _error(code: int, description: str, parameters: JSON | None = None) -> web.Response:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")
