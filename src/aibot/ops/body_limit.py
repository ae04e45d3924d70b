"""Refuses request bodies over `server.max_body_bytes` before they are read into memory.

A declared Content-Length over the limit is refused at once. A chunked body is counted as it
is read; once it passes the limit the app gets no more of it, and whatever the app answers to a
body it never got whole (FastAPI's 400 "error parsing the body", a 422, a 500) is replaced by
the same 413 — the size is the reason, and the client must be told so. A multipart upload to
a path that takes attachments (`uploads`) is allowed up to its own, larger, limit (the files
are spooled to disk as they arrive, never held whole).

The 413 is said as the API the path belongs to says its errors: under `/v1` in OpenAI's shape
and words (its clients raise the class they expect, channels/http_api/openai_errors.py),
everywhere else — the REST API, the webhook channel, the page's uploads — as
`{"error": {"message", "code"}}` in the caller's language (`Accept-Language`, else
`ui.default_language`), like the REST API's other refusals (channels/http_bodies.py).
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aibot.i18n import N_, pick, translate

TOO_LARGE = N_("The request body is larger than the limit of {limit}.")


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, max_bytes: int, uploads: tuple[tuple[str, ...], int] = ((), 0)
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths, self.upload_bytes = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if self.upload_paths and _upload(scope, self.upload_paths):
            limit = max(limit, self.upload_bytes)
        if declared_over(scope, limit):
            await refuse(scope, send, limit)
            return
        seen = 0
        exceeded = started = False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to a body cut short: the 413 below replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await refuse(scope, send, limit)


def declared_over(scope: Scope, limit: int) -> bool:
    """Whether the request's Content-Length says its body is over `limit` bytes."""
    return any(
        name == b"content-length" and value.isdigit() and int(value) > limit
        for name, value in scope["headers"]
    )


async def read_within(receive: Receive, limit: int) -> bytes | None:
    """The whole body; None when the client left first; BodyTooLarge once it passes `limit`
    bytes. For a route that reads its body at once instead of passing `receive` on."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _upload(scope: Scope, paths: tuple[str, ...]) -> bool:
    if not str(scope.get("path", "")).startswith(paths):
        return False
    return any(
        name == b"content-type" and value.startswith(b"multipart/form-data")
        for name, value in scope["headers"]
    )


async def refuse(scope: Scope, send: Send, limit: int) -> None:
    """413 `body_too_large`, in the shape and language of the path's API."""
    if str(scope.get("path", "")).startswith("/v1/"):
        body = (
            b'{"error":{"message":"request body larger than %d bytes",'
            b'"type":"invalid_request_error","param":null,"code":"body_too_large"}}' % limit
        )
    else:
        accept = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
        message = translate(pick(accept.decode("latin-1")), TOO_LARGE, limit=size_text(limit))
        body = orjson.dumps({"error": {"message": message, "code": "body_too_large"}})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def size_text(size: int) -> str:
    """A byte count as people read a limit: 1 MB, 10.1 MB, 64 KB."""
    for unit, scale in (("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} B"
