"""Pictures, voice and files a user sent: the interfaces the media room, the store and the
channels implement around an `Attachment` (core/messages.py), and the errors they share."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from aibot.core.messages import Attachment


class MediaRefused(Exception):
    """An attachment the gateway will not use (too big, wrong type, malformed, a zip bomb, no
    model that can see or hear…): `reason` is the catalog key of the reply the user gets,
    `values` fill it in."""

    def __init__(self, reason: str, **values: object) -> None:
        super().__init__(reason)
        self.reason = reason
        self.values = values


class FetchFailed(Exception):
    """A download that may work when tried again (a platform 5xx, a timeout)."""


class BlobSink(Protocol):
    """Where a download streams: it counts the bytes and refuses past the limit."""

    async def write(self, chunk: bytes) -> None:
        """Appends `chunk`; raises `MediaRefused("too_big")` past the size limit."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """What the platform said about the bytes it sent (its Content-Type, a file name)."""

    mime: str | None = None
    name: str | None = None


class MediaFetcher(Protocol):
    """A channel's download of its own attachments (`channels/<platform>/media.py`)."""

    async def fetch(self, attachment: Attachment, sink: BlobSink) -> Fetched:
        """Streams the attachment's bytes into `sink` from the platform's own endpoint.

        Raises `MediaRefused` when the platform says it never will (too big, gone) and
        `FetchFailed` when a retry may work."""


class Upload(BlobSink, Protocol):
    """One upload being stored: its hash and size once written."""

    @property
    def digest(self) -> str: ...

    size: int


class UploadStore(Protocol):
    """Where request/response channels (REST, the web page) keep what a caller uploads before
    the message is handled; the media room's blob store is one."""

    max_bytes: int

    def incoming(self) -> AbstractAsyncContextManager[Upload]: ...
