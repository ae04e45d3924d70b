"""Reading a `/v1/chat/completions` body: parsed once (orjson), checked where the gateway
relies on it, and otherwise left exactly as the caller sent it.

Validating the whole OpenAI schema into models and serialising it again would cost more than
the rest of the request, and would drop what the schema does not know (vendor fields, new
OpenAI fields). So only what the gateway reads or bounds is checked here, and `SCHEMA` (the
OpenAPI document's request body) states exactly those checks, no more.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_TOKENS = 2**31 - 1
ROLES = ("system", "developer", "user", "assistant", "tool", "function")
SESSION_MAX = 128


class BadRequest(ValueError):
    """A body OpenAI would refuse with a 400; `param` names the field, as OpenAI does."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


_NUMBER = {"type": "number"}
_TOKENS = {"type": "integer", "minimum": 1, "maximum": MAX_TOKENS}
_PART = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string"}, "text": {"type": "string"}},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["model", "messages"],
    "additionalProperties": True,
    "properties": {
        "model": {"type": "string", "minLength": 1, "maxLength": 256},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role"],
                "additionalProperties": True,
                "properties": {
                    "role": {"type": "string", "enum": list(ROLES)},
                    "content": {
                        "anyOf": [
                            {"type": "string"},
                            {"type": "array", "items": _PART},
                            {"type": "null"},
                        ]
                    },
                },
            },
        },
        "stream": {"type": "boolean"},
        "stream_options": {"anyOf": [{"type": "object"}, {"type": "null"}]},
        "user": {"type": "string", "maxLength": 255},
        "n": {"type": "integer", "minimum": 1, "maximum": 128},
        "max_tokens": _TOKENS,
        "max_completion_tokens": _TOKENS,
        "temperature": {**_NUMBER, "minimum": 0, "maximum": 2},
        "top_p": {**_NUMBER, "minimum": 0, "maximum": 1},
        "metadata": {
            "anyOf": [
                {"type": "object", "additionalProperties": {"type": "string", "maxLength": 512}},
                {"type": "null"},
            ]
        },
    },
}


def read_body(raw: bytes) -> dict[str, Any]:
    """The caller's body as a dict, or BadRequest saying what is wrong with it."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly.)"
        ) from None
    if not isinstance(body, dict):
        raise BadRequest("The body of your request must be a JSON object.")
    return body


def check_chat(body: dict[str, Any]) -> None:
    """The fields of a chat body the gateway reads or bounds (see `SCHEMA`)."""
    model = body.get("model")
    if not isinstance(model, str) or not 1 <= len(model) <= 256:
        raise BadRequest("you must provide a model parameter", "model")
    _check_messages(body.get("messages"))
    _check_type(body, "stream", bool, "a boolean")
    _check_type(body, "user", str, "a string")
    if len(body.get("user") or "") > 255:
        raise BadRequest("'user' is longer than 255 characters", "user")
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise BadRequest("'stream_options' must be an object", "stream_options")
    _check_number(body, "n", 1, 128, integer=True)
    _check_number(body, "max_tokens", 1, MAX_TOKENS, integer=True)
    _check_number(body, "max_completion_tokens", 1, MAX_TOKENS, integer=True)
    _check_number(body, "temperature", 0, 2)
    _check_number(body, "top_p", 0, 1)
    metadata = body.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict)
        and all(isinstance(v, str) and len(v) <= 512 for v in metadata.values())
    ):
        raise BadRequest("'metadata' must map keys to strings of at most 512", "metadata")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array", "messages")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise BadRequest(f"'{where}.role' must be one of {', '.join(ROLES)}", where)
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            raise BadRequest(f"'{where}.content' must be a string or an array", where)
        for part in content:
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise BadRequest(f"each part of '{where}.content' needs a type", where)
            if "text" in part and not isinstance(part["text"], str):
                raise BadRequest(f"a text part's `text` must be a string ({where})", where)


def check_lengths(body: dict[str, Any], limit: int) -> None:
    """Every message of the body (not only the last) at most `limit` characters of text
    (`server.max_message_chars`), refused in OpenAI's words for a string too long."""
    for index, message in enumerate(body["messages"]):
        content = message.get("content")
        if isinstance(content, list):
            length = sum(len(p["text"]) for p in content if isinstance(p.get("text"), str))
        else:
            length = len(content or "")
        if length > limit:
            param = f"messages[{index}].content"
            raise BadRequest(
                f"Invalid '{param}': string too long. Expected a string with maximum length "
                f"{limit}, but got a string with length {length} instead.",
                param,
                "string_above_max_length",
            )


def _check_type(body: dict[str, Any], name: str, kind: type, label: str) -> None:
    if name in body and body[name] is not None and type(body[name]) is not kind:
        raise BadRequest(f"'{name}' must be {label}", name)


def _check_number(
    body: dict[str, Any], name: str, low: float, high: float, *, integer: bool = False
) -> None:
    value = body.get(name)
    if value is None:
        return
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None or not isinstance(number, kinds) or not low <= number <= high:
        kind = "an integer" if integer else "a number"
        raise BadRequest(f"'{name}' must be {kind} from {low:g} to {high:g}", name)


def session_of(body: dict[str, Any], header: str | None) -> str | None:
    """The conversation the caller asked the gateway to remember: the `X-Session-Id` header,
    or `metadata.session_id` for clients that cannot set headers. `user` never is one."""
    metadata = body.get("metadata")
    named = header or (metadata.get("session_id") if isinstance(metadata, dict) else None)
    if not named:
        return None
    if len(named) > SESSION_MAX or not str(named).isprintable():
        raise BadRequest(
            f"the session id must be at most {SESSION_MAX} printable characters", "session_id"
        )
    return str(named)


def last_user_text(body: dict[str, Any]) -> str:
    """The text of the last user message: what routes match and logs show."""
    for message in reversed(body["messages"]):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content if p.get("type") == "text")
        return content or ""
    return ""
