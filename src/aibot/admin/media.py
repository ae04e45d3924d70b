"""How the console hands out an attachment: a picture the bytes prove (PNG, JPEG, GIF, WebP)
inline with its own type, everything else as an `application/octet-stream` download, always
with `Content-Disposition`, `nosniff` and a sandboxing CSP, so a file can never run as a page
of the console (no inline HTML or SVG)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import Response
from fastapi.responses import FileResponse

from aibot.admin.page import secured
from aibot.media.sniff import IMAGE_TYPES, sniff


def attachment_response(path: Path, name: str) -> Response:
    with path.open("rb") as file:
        real = sniff(file.read(32))
    image = real in IMAGE_TYPES
    disposition = "inline" if image else "attachment"
    safe = quote(name or "attachment", safe="")
    response = secured(FileResponse(path, media_type=real if image else "application/octet-stream"))
    response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{safe}"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
