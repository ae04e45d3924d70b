"""Files on the fake Telegram Bot API: what users sent, `getFile`, and the file endpoint.

As the Bot API documents them (PROTOCOLS-media-vendors-mcp §M.1): a media message carries a
``file_id`` (``photo`` is a list of ``PhotoSize``, smallest first); ``getFile`` answers a
``File`` with a ``file_path`` (files over 20 MB: 400 "Bad Request: file is too big"); the bytes
are at ``GET /file/bot<token>/<file_path>``, without the original name or type.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

JSON = dict[str, Any]
DOWNLOAD_LIMIT = 20_000_000  # FileSizeLimit.FILESIZE_DOWNLOAD


class _Owner(Protocol):
    token: str


@dataclass(slots=True)
class StoredFile:
    file_id: str
    unique_id: str
    path: str
    data: bytes


class TelegramFiles:
    """``error(code, description)`` builds the fake's API error (its ``ApiError``)."""

    def __init__(self, owner: _Owner, error: Any) -> None:
        self._owner = owner
        self._error = error
        self._ids = itertools.count(1)
        self.by_id: dict[str, StoredFile] = {}
        self.by_path: dict[str, StoredFile] = {}
        self.downloads: list[str] = []  # file paths fetched, in order

    def add(self, data: bytes, folder: str, extension: str) -> StoredFile:
        number = next(self._ids)
        stored = StoredFile(
            f"AgAC{secrets.token_hex(12)}{number}",
            f"AQAD{secrets.token_hex(6)}",
            f"{folder}/file_{number}.{extension}",
            data,
        )
        self.by_id[stored.file_id] = stored
        self.by_path[stored.path] = stored
        return stored

    # -- media fields of a message (pass one to FakeTelegram.user_message(media=…))

    def photo(self, data: bytes, width: int = 1280, height: int = 960) -> JSON:
        small, large = self.add(data[:1024], "photos", "jpg"), self.add(data, "photos", "jpg")
        sizes = [
            self._size(small, 90, 67),
            self._size(large, width, height),
        ]
        return {"photo": sizes}

    def voice(self, data: bytes, duration: int = 2) -> JSON:
        stored = self.add(data, "voice", "oga")
        return {"voice": {**self._file(stored), "duration": duration, "mime_type": "audio/ogg"}}

    def document(self, data: bytes, name: str, mime: str, size: int | None = None) -> JSON:
        stored = self.add(data, "documents", name.rsplit(".", 1)[-1] or "bin")
        fields = self._file(stored)
        if size is not None:
            fields["file_size"] = size
        return {"document": {**fields, "file_name": name, "mime_type": mime}}

    def _file(self, stored: StoredFile) -> JSON:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.unique_id,
            "file_size": len(stored.data),
        }

    def _size(self, stored: StoredFile, width: int, height: int) -> JSON:
        return {**self._file(stored), "width": width, "height": height}

    # -- the API

    def get_file(self, params: JSON) -> JSON:
        stored = self.by_id.get(str(params.get("file_id", "")))
        if stored is None:
            raise self._error(400, "Bad Request: invalid file_id")
        if len(stored.data) > DOWNLOAD_LIMIT:
            raise self._error(400, "Bad Request: file is too big")
        return {**self._file(stored), "file_path": stored.path}

    async def download(self, request: web.Request) -> web.StreamResponse:
        stored = self.by_path.get(request.match_info["path"])
        if request.match_info["token"] != self._owner.token or stored is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        self.downloads.append(stored.path)
        return web.Response(body=stored.data, content_type="application/octet-stream")
