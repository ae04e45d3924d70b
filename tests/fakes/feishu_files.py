"""Message resources on the fake Feishu open platform (PROTOCOLS-media-vendors-mcp §M.2).

``GET /open-apis/im/v1/messages/{message_id}/resources/{file_key}?type=image|file`` with the
tenant token: the raw bytes, their type only in ``Content-Type`` (and a ``Content-Disposition``
file name); errors are JSON with HTTP 400: the key not in that message (234003), a file over
100 MB (234037), a bad ``type`` (234001). ``type=image`` serves images (of image messages and
of posts), ``type=file`` files, audio and video.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

JSON = dict[str, Any]
LIMIT = 100 * 1024 * 1024


@dataclass(slots=True)
class Resource:
    data: bytes
    type: str  # image or file
    mime: str
    name: str


class FeishuFiles:
    """`authorise(request)` raises the fake's rejection for a missing or wrong token;
    `content_of(message_id)` is the message's content JSON (None: no such message)."""

    def __init__(
        self, authorise: Callable[[web.Request], None], content_of: Callable[[str], Any]
    ) -> None:
        self._authorise = authorise
        self._content_of = content_of
        self.resources: dict[str, Resource] = {}
        self.downloads: list[tuple[str, str]] = []  # (message_id, key) fetched
        self.requested: list[str] = []  # keys asked for, answered or not
        self.hang = 0.0  # seconds a download waits before its bytes (one that never ends)

    def image(self, data: bytes, mime: str = "image/png") -> str:
        """Stores a picture; returns its `image_key` for a message's content."""
        key = f"img_v3_{secrets.token_hex(10)}"
        self.resources[key] = Resource(data, "image", mime, f"{key}.png")
        return key

    def file(self, data: bytes, name: str, mime: str = "application/octet-stream") -> str:
        """Stores a file or an audio clip; returns its `file_key`."""
        key = f"file_v3_{secrets.token_hex(10)}"
        self.resources[key] = Resource(data, "file", mime, name)
        return key

    async def download(self, request: web.Request) -> web.StreamResponse:
        message_id, key = request.match_info["id"], request.match_info["key"]
        try:
            self._authorise(request)
        except Exception as exc:  # the fake's Rejection: its own status, code and words
            status, code, msg = (getattr(exc, n) for n in ("status", "code", "msg"))
            return web.json_response({"code": code, "msg": msg}, status=status)
        kind = request.query.get("type")
        if kind not in ("image", "file"):
            return _error(234001, "Invalid request param.")
        resource = self.resources.get(key)
        content = self._content_of(message_id)
        if resource is None or content is None or key not in orjson.dumps(content).decode():
            return _error(234003, "File not in msg.")
        if resource.type != kind:
            return _error(234003, "File not in msg.")
        if len(resource.data) > LIMIT:
            return _error(234037, "Downloaded file size exceeds limit.")
        self.requested.append(key)
        if self.hang:
            await asyncio.sleep(self.hang)
        self.downloads.append((message_id, key))
        return web.Response(
            body=resource.data,
            headers={
                "Content-Type": resource.mime,
                "Content-Disposition": f'attachment; filename="{resource.name}"',
            },
        )


def _error(code: int, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=400)
