"""API keys for /v1, /api/v1 and the web page: constant-time checks, no early exit."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import Request

from aibot.core.errors import AccessDenied


class ApiKeys:
    def __init__(self, keys: list[str]) -> None:
        # Comparing fixed-length digests keeps the time independent of key length and content.
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]

    @property
    def configured(self) -> bool:
        return bool(self._digests)

    def principal(self, presented: str | None) -> str | None:
        """Returns a non-secret name for the matching key ("key-1"…), or None."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        match = None
        for index, known in enumerate(self._digests):
            if hmac.compare_digest(digest, known) and match is None:
                match = f"key-{index + 1}"
        return match

    def require(self, request: Request) -> str:
        """The caller's principal, or AccessDenied (rendered as 401 by the app).

        Called inline rather than as a FastAPI dependency: dependencies cost a thread hop or a
        resolution pass on every request, measurable on the per-message path.
        """
        name = self.principal(bearer_token(request))
        if name is None:
            raise AccessDenied("invalid API key")
        return name


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None
