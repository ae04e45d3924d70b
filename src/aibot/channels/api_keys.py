"""API keys for /v1, /api/v1 and the web page: constant-time checks, no early exit.

Keys come from `channels.api.keys` in the config and from the admin console (the `api_keys`
table). The stored ones are held in memory and reloaded every `channels.api.key_refresh` and
right after a change, so checking a key never queries the database and a revocation reaches
every replica quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from fastapi import Request

from aibot.core.errors import AccessDenied

log = structlog.get_logger("aibot.api_keys")

# Which request paths each scope of a console-made key opens; "all" also opens the web page.
SCOPE_PREFIXES = {"openai": ("/v1/",), "rest": ("/api/v1/",)}


@dataclass(frozen=True)
class StoredKey:
    """A console-made key as the request path needs it: its digest, never the key."""

    digest: bytes
    principal: str
    scope: str
    expires_at: float | None

    def allows(self, path: str, now: float) -> bool:
        if self.expires_at is not None and now >= self.expires_at:
            return False
        return self.scope == "all" or path.startswith(SCOPE_PREFIXES.get(self.scope, ()))


KeyLoader = Callable[[], Awaitable[list[StoredKey]]]


class ApiKeys:
    def __init__(self, keys: list[str], *, clock: Callable[[], float] = time.time) -> None:
        # Comparing fixed-length digests keeps the time independent of key length and content.
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]
        self._stored: list[StoredKey] = []
        self._clock = clock
        self._loader: KeyLoader | None = None
        self._refresher: asyncio.Task[None] | None = None

    @property
    def configured(self) -> bool:
        return bool(self._digests or self._stored)

    def principal(self, presented: str | None, path: str = "") -> str | None:
        """Returns a non-secret name for the matching key ("key-1", "apikey-7"…), or None.

        `path` is the request path, checked against a stored key's scope; without one only
        keys of scope "all" match (the web page).
        """
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        match = None
        for index, known in enumerate(self._digests):
            if hmac.compare_digest(digest, known) and match is None:
                match = f"key-{index + 1}"
        now = self._clock()
        for stored in self._stored:
            if (
                hmac.compare_digest(digest, stored.digest)
                and match is None
                and stored.allows(path, now)
            ):
                match = stored.principal
        return match

    async def start_refreshing(self, loader: KeyLoader, interval: float) -> None:
        """Loads the stored keys now, then again every `interval` seconds until stopped."""
        self._loader = loader
        await self.refresh()
        self._refresher = asyncio.create_task(self._refresh_every(interval))

    async def stop_refreshing(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

    async def refresh(self) -> None:
        """Reloads the stored keys; on a store error the previous set stays in force."""
        if self._loader is None:
            return
        try:
            self._stored = await self._loader()
        except Exception as exc:
            log.warning(
                "could not reload API keys from the store; keeping the last set",
                error=str(exc)[:300],
            )

    async def _refresh_every(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            await self.refresh()

    def require(self, request: Request) -> str:
        """The caller's principal, or AccessDenied (rendered as 401 by the app).

        Called inline rather than as a FastAPI dependency: dependencies cost a thread hop or a
        resolution pass on every request, measurable on the per-message path.
        """
        name = self.principal(bearer_token(request), request.url.path)
        if name is None:
            raise AccessDenied("invalid API key")
        return name


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None
