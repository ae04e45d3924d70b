"""The last step before bytes leave the process: configured secrets masked in every HTTP
response (headers and body) and every WebSocket frame.

Errors quote what went wrong, and what went wrong may hold a secret: an HTTP library's error
names the URL, and Telegram's URL holds the bot token; an upstream may echo the key it refused.
The sources mask what they know (readiness, the console pages), and this middleware makes it a
rule for every route, including routes written later. Each secret is replaced by as many bytes
(`123*****`, see `_replacement`) in each form it can take in a body — as is, JSON-escaped,
HTML-escaped, percent-encoded — so a Content-Length stays right and a streamed body is masked
chunk by chunk. Secrets shorter than six characters are not masked (`SecretMasker` skips them
too): they would match ordinary text.
"""

from __future__ import annotations

import html
import json
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aibot.ops.logging import SecretMasker

Patterns = tuple[tuple[bytes, bytes], ...]


class SecretPatterns:
    """The byte forms of a masker's secrets, rebuilt when its list changes (a reload)."""

    def __init__(self, masker: SecretMasker) -> None:
        self.masker = masker
        self._for: tuple[str, ...] = ()
        self._patterns: Patterns = ()

    def __call__(self) -> Patterns:
        secrets = self.masker.secrets
        if secrets != self._for:
            self._for, self._patterns = secrets, byte_patterns(secrets)
        return self._patterns


class ResponseSecretMask:
    def __init__(self, app: ASGIApp, patterns: SecretPatterns) -> None:
        self.app = app
        self.patterns = patterns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        patterns = self.patterns()
        if scope["type"] not in ("http", "websocket") or not patterns:
            await self.app(scope, receive, send)
            return

        async def masked(message: Message) -> None:
            await send(mask_message(message, patterns))

        await self.app(scope, receive, masked)


def byte_patterns(secrets: tuple[str, ...]) -> Patterns:
    found: dict[bytes, bytes] = {}
    for secret in secrets:
        for form in (
            secret,
            json.dumps(secret)[1:-1],
            html.escape(secret, quote=True),
            quote(secret, safe=""),
            quote(secret, safe="/:"),
        ):
            encoded = form.encode()
            found.setdefault(encoded, _replacement(encoded))
    return tuple(sorted(found.items(), key=lambda item: len(item[0]), reverse=True))


def _replacement(secret: bytes) -> bytes:
    """Same length; a three-byte prefix of a long one, so an operator can tell which it was."""
    keep = 3 if len(secret) > 8 else 0
    return secret[:keep] + b"*" * (len(secret) - keep)


def mask_bytes(data: bytes, patterns: Patterns) -> bytes:
    for secret, replacement in patterns:
        if secret in data:
            data = data.replace(secret, replacement)
    return data


def mask_headers(
    headers: list[tuple[bytes, bytes]], patterns: Patterns
) -> list[tuple[bytes, bytes]]:
    """`headers`, itself when no secret is in any value: one search per secret over all the
    values at once, rather than one per value (a header value holds no newline)."""
    values = b"\n".join(value for _name, value in headers)
    if not any(secret in values for secret, _replacement in patterns):
        return headers
    return [(name, mask_bytes(value, patterns)) for name, value in headers]


def mask_message(message: Message, patterns: Patterns) -> Message:
    """`message` with the secrets masked; the same object when it holds none."""
    kind = message["type"]
    if kind == "http.response.body" and message.get("body"):
        body = mask_bytes(message["body"], patterns)
        return message if body is message["body"] else {**message, "body": body}
    if kind == "http.response.start":
        headers = mask_headers(message["headers"], patterns)
        return message if headers is message["headers"] else {**message, "headers": headers}
    if kind == "websocket.send" and message.get("text") is not None:
        text = mask_bytes(message["text"].encode(), patterns).decode()
        return {**message, "text": text}
    if kind == "websocket.send" and message.get("bytes") is not None:
        return {**message, "bytes": mask_bytes(message["bytes"], patterns)}
    return message
