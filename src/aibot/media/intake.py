"""One attachment from the platform to what the model reads: download (bounded, retried,
streamed to the blob store), then the check and the conversion its kind needs — a picture
proven and sized, a voice note transcribed (or the platform's own transcript), a file's text
extracted. CPU-bound work runs in a thread, never on the event loop."""

from __future__ import annotations

import asyncio
import base64
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from aibot.core.media import FetchFailed, MediaFetcher, MediaRefused
from aibot.core.messages import Attachment
from aibot.media.blobs import LocalBlobStore
from aibot.media.extract import extract
from aibot.media.images import prepare_image
from aibot.media.sniff import IMAGE_TYPES, sniff
from aibot.media.speech import SpeechToText
from aibot.ops.metrics import Metrics

log = structlog.get_logger("aibot.media")

RETRY_DELAYS = (1.0, 3.0)  # then the message is answered with a "send it again"


@dataclass(slots=True)
class Resolved:
    """An attachment made usable: its blob, and what the model gets from it."""

    attachment: Attachment
    kind: str
    blob: str | None
    size: int
    mime: str
    name: str
    text: str | None = None  # a transcript or a file's text
    cut: bool = False  # the file's text was longer than its budget
    image: str | None = None  # a data: URL for an image part


def safe_name(name: str | None, fallback: str) -> str:
    """A file name fit to show and store: no directories, no control characters, not long."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip(" .")
    return cleaned[:100] or fallback


class Intake:
    def __init__(
        self,
        blobs: LocalBlobStore,
        fetchers: Callable[[str], MediaFetcher | None],
        metrics: Metrics,
        *,
        speech: SpeechToText | None,
        timeout: float,
        file_tokens: int,
    ) -> None:
        self._blobs = blobs
        self._fetchers = fetchers
        self._metrics = metrics
        self._speech = speech
        self._timeout = timeout
        self._file_tokens = file_tokens

    async def resolve(self, channel: str, attachment: Attachment) -> Resolved:
        if attachment.kind == "audio" and attachment.text:
            # The platform recognised the speech itself (DingTalk's `recognition`).
            return Resolved(attachment, "audio", None, 0, "audio", "voice", text=attachment.text)
        if attachment.size is not None and attachment.size > self._blobs.max_bytes:
            raise MediaRefused("too_big", limit=self._blobs.max_bytes)
        digest, size, claimed, name = await self._download(channel, attachment)
        path = self._blobs.path(digest)
        with path.open("rb") as file:
            real = sniff(file.read(32))
        kind = "image" if attachment.kind == "file" and real in IMAGE_TYPES else attachment.kind
        fallback = {"image": "image", "audio": "voice", "file": "file"}[kind]
        item = Resolved(
            attachment,
            kind,
            digest,
            size,
            real or claimed or "application/octet-stream",
            safe_name(attachment.name or name, fallback),
        )
        await getattr(self, f"_{kind}")(item, path)
        return item

    async def _download(
        self, channel: str, attachment: Attachment
    ) -> tuple[str, int, str | None, str | None]:
        """(digest, size, the platform's type and file name) of the attachment, stored."""
        if attachment.blob is not None and self._blobs.exists(attachment.blob):
            size = self._blobs.path(attachment.blob).stat().st_size
            return attachment.blob, size, attachment.mime, attachment.name
        fetcher = self._fetchers(channel)
        if fetcher is None:
            raise MediaRefused("fetch_failed")
        started = time.perf_counter()
        for delay in (*RETRY_DELAYS, None):
            try:
                async with self._blobs.incoming() as sink:
                    async with asyncio.timeout(self._timeout):
                        fetched = await fetcher.fetch(attachment, sink)
                self._metrics.media_seconds.labels("download").observe(
                    time.perf_counter() - started
                )
                self._metrics.media_bytes.labels(attachment.kind).inc(sink.size)
                return sink.digest, sink.size, fetched.mime or attachment.mime, fetched.name
            except (FetchFailed, TimeoutError) as exc:
                log.warning("attachment download failed", channel=channel, error=str(exc)[:200])
                if delay is None:
                    raise MediaRefused("fetch_failed") from None
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _image(self, item: Resolved, path: Path) -> None:
        started = time.perf_counter()
        mime, data = await asyncio.to_thread(prepare_image, path)
        self._metrics.media_seconds.labels("image").observe(time.perf_counter() - started)
        item.mime = mime
        item.image = f"data:{mime};base64,{base64.b64encode(data).decode()}"

    async def _audio(self, item: Resolved, path: Path) -> None:
        if self._speech is None:
            raise MediaRefused("no_stt")
        started = time.perf_counter()
        item.text = await self._transcribe(path)
        self._metrics.media_seconds.labels("transcribe").observe(time.perf_counter() - started)

    async def _transcribe(self, path: Path) -> str:
        assert self._speech is not None
        for delay in (*RETRY_DELAYS, None):
            try:
                return await self._speech.transcribe(path)
            except FetchFailed as exc:
                log.warning("speech service failed", error=str(exc)[:200])
                if delay is None:
                    raise MediaRefused("speech_failed") from None
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _file(self, item: Resolved, path: Path) -> None:
        started = time.perf_counter()
        found = await asyncio.to_thread(extract, path, self._file_tokens)
        self._metrics.media_seconds.labels("extract").observe(time.perf_counter() - started)
        item.mime, item.text, item.cut = found.mime, found.text, found.cut
