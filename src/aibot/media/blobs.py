"""The local blob store: attachments as files named by their SHA-256, mode 0600.

A download streams into a temporary file in the same directory (never wholly in memory), is
hashed as it goes, and is renamed to its hash once complete, so a crash leaves at most a stray
temporary file (removed at the next start) and the same bytes are stored once however often
they are sent. Another issue adds object storage behind the same small interface.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aibot.core.media import MediaRefused

_HEX = frozenset("0123456789abcdef")


class BlobWriter:
    """One download in progress: counts, hashes and appends; refuses past `limit` bytes."""

    def __init__(self, path: Path, limit: int) -> None:
        self._path = path
        self._limit = limit
        self._hash = hashlib.sha256()
        self.size = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._file = os.fdopen(fd, "wb")

    async def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._limit:
            raise MediaRefused("too_big", limit=self._limit)
        self._hash.update(chunk)
        self._file.write(chunk)

    @property
    def digest(self) -> str:
        return self._hash.hexdigest()

    def close(self) -> None:
        self._file.close()


class LocalBlobStore:
    """Files under `root` (created 0700): `ab/abcdef…` for the blob whose hash is `abcdef…`."""

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes

    def prepare(self) -> None:
        """Creates the directory and removes temporary files a crash left behind."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stray in self.root.glob("*.part"):
            stray.unlink(missing_ok=True)

    @contextlib.asynccontextmanager
    async def incoming(self) -> AsyncIterator[BlobWriter]:
        """A writer for one download; once the block ends without error the bytes are stored
        under `writer.digest`. On any error the partial file is removed."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = self.root / f"{secrets.token_hex(8)}.part"
        writer = BlobWriter(temporary, self.max_bytes)
        try:
            yield writer
            writer.close()
            final = self.path(writer.digest)
            final.parent.mkdir(exist_ok=True, mode=0o700)
            os.replace(temporary, final)
        finally:
            writer.close()
            temporary.unlink(missing_ok=True)

    def path(self, digest: str) -> Path:
        """Where a blob lives; a digest that is not 64 hex digits is refused (no path tricks)."""
        if len(digest) != 64 or not set(digest) <= _HEX:
            raise ValueError("not a blob digest")
        return self.root / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def purge(self, keep_days: float, now: float | None = None) -> int:
        """Deletes blobs not written for `keep_days` days (retention.media_days); returns how
        many. A blob sent again is rewritten, which renews it."""
        cutoff = (time.time() if now is None else now) - keep_days * 86400
        removed = 0
        for path in self.root.glob("??/*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
