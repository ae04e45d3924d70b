"""Attachments sent to the HTTP APIs: multipart files or base64 in JSON, stored in the blob
store before the message is handled (the caller holds the connection, so it is the retry).

Files are copied in chunks from the request's spooled upload (multipart) straight into the
store: a large file is never wholly in memory. The kind (image, audio, file) comes from the
declared type; the media room checks the bytes themselves.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from pydantic import ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse

from aibot.channels.http_bodies import Body, caller_language, error_response
from aibot.core.media import MediaRefused, UploadStore
from aibot.core.media_replies import refusal_text
from aibot.core.messages import Attachment, MediaKind

CHUNK = 256 * 1024
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
MAX_ATTACHMENTS = 10


class AttachmentBody(Body):
    """One attachment in a JSON body: its bytes in base64."""

    model_config = ConfigDict(strict=True)

    data: str = Field(pattern=BASE64, description="The file's bytes, base64-encoded.")
    name: str | None = Field(None, max_length=255, description="File name, e.g. report.pdf.")
    mime: str | None = Field(None, max_length=128, description="MIME type, e.g. image/png.")


def kind_for(mime: str | None, name: str | None) -> MediaKind:
    """What the caller says it sent: pictures and sound by type, anything else is a file."""
    declared = (mime or "").lower()
    if declared.startswith("image/"):
        return "image"
    if declared.startswith("audio/"):
        return "audio"
    return "file"


async def store_base64(store: UploadStore, items: list[AttachmentBody]) -> tuple[Attachment, ...]:
    out = []
    for item in items[:MAX_ATTACHMENTS]:
        if len(item.data) > store.max_bytes * 4 // 3 + 4:
            raise MediaRefused("too_big", limit=store.max_bytes)
        try:
            data = base64.b64decode(item.data, validate=True)
        except (binascii.Error, ValueError):
            raise MediaRefused("malformed") from None
        async with store.incoming() as sink:
            for start in range(0, len(data), CHUNK):
                await sink.write(data[start : start + CHUNK])
        out.append(_attachment(sink.digest, sink.size, item.mime, item.name))
    return tuple(out)


async def store_files(store: UploadStore, files: list[UploadFile]) -> tuple[Attachment, ...]:
    out = []
    for upload in files[:MAX_ATTACHMENTS]:
        async with store.incoming() as sink:
            while chunk := await upload.read(CHUNK):
                await sink.write(chunk)
        out.append(_attachment(sink.digest, sink.size, upload.content_type, upload.filename))
    return tuple(out)


def _attachment(digest: str, size: int, mime: str | None, name: str | None) -> Attachment:
    return Attachment(kind_for(mime, name), {}, mime, size, name, blob=digest)


def form_files(form: Any) -> list[UploadFile]:
    """Every file part of a parsed multipart form, whatever its field name."""
    return [value for _, value in form.multi_items() if isinstance(value, UploadFile)]


def attachment_refusal(request: Request, refused: MediaRefused) -> JSONResponse:
    """413 (too big) or 400 `attachment_<reason>`, said as the chat says it, in the caller's
    language."""
    status = 413 if refused.reason == "too_big" else 400
    text = refusal_text(refused, caller_language(request.headers))
    return error_response(status, text, f"attachment_{refused.reason}")
