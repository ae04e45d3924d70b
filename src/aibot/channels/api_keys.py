"""API keys for /v1, /api/v1, /graphql and the web page: constant-time checks, no early exit.

Keys come from `channels.api.keys` in the config and from the admin console (the `api_keys`
table). The stored ones are held in memory and reloaded every `channels.api.key_refresh` and
right after a change, so checking a key never queries the database and a revocation reaches
every replica quickly. A presented credential shaped like a JWT is checked as an access token
(`tokens.py`) instead, with the same scopes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

import structlog
from starlette.requests import Request

from aibot.channels.tokens import TokenVerifier, looks_like_jwt
from aibot.core.errors import AccessDenied
from aibot.i18n import N_

log = structlog.get_logger("aibot.api_keys")

# Which request paths each scope of a console-made key (or a token) opens; "all" also opens the
# web page. GraphQL is the REST API in another shape, so it goes with "rest".
# "read" is a console viewer's token (admin/pages_token.py): GraphQL queries only.
READ_SCOPE = "read"
GRAPHQL_PATH = "/graphql"
SCOPE_PREFIXES = {
    "openai": ("/v1/",),
    "rest": ("/api/v1/", GRAPHQL_PATH),
    READ_SCOPE: (GRAPHQL_PATH,),
}
# Opens what "all" opens, and its callers count as chat admins (/model, /stats) when
# `policy.access.admins` is set: an API caller's rights come from its key, never from an id it
# names in a request.
ADMIN_SCOPE = "admin"
# What /readyz and the console say of the api channel when no key is configured.
NO_KEYS = N_("no channels.api.keys configured: /v1 and /api/v1 refuse all")
# How often the refresher wakes to see whether a token named a key it does not know yet.
_TICK = 1.0


def scope_allows(scope: str, path: str) -> bool:
    return scope in ("all", ADMIN_SCOPE) or path.startswith(SCOPE_PREFIXES.get(scope, ()))


@dataclass(frozen=True)
class StoredKey:
    """A console-made key as the request path needs it: its digest, never the key."""

    digest: bytes
    principal: str
    scope: str
    expires_at: float | None

    def usable(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    def allows(self, path: str, now: float) -> bool:
        return self.usable(now) and scope_allows(self.scope, path)


KeyLoader = Callable[[], Awaitable[list[StoredKey]]]


class ApiKeys:
    def __init__(
        self,
        keys: list[str],
        *,
        admin_keys: Collection[str] = (),
        clock: Callable[[], float] = time.time,
        tokens: TokenVerifier | None = None,
    ) -> None:
        self._digests: list[bytes] = []
        self._admin_names: frozenset[str] = frozenset()
        self.configure(keys, admin_keys)
        self._stored: list[StoredKey] = []
        self._clock = clock
        self._loader: KeyLoader | None = None
        self._refresher: asyncio.Task[None] | None = None
        self.tokens = tokens

    def configure(self, keys: list[str], admin_keys: Collection[str] = ()) -> None:
        """Sets the config's keys (at start and on every reload: a key removed from
        `channels.api.keys` stops working at once) and the names of those that are admins."""
        # Comparing fixed-length digests keeps the time independent of key length and content.
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]
        self._admin_names = frozenset(admin_keys)

    @property
    def configured(self) -> bool:
        return bool(self._digests or self._stored)

    def is_admin(self, principal: str | None) -> bool:
        """Whether the key named `principal` makes its callers chat admins: one listed in
        `channels.api.admin_keys`, or a console key of scope "admin" still valid (an access
        token exchanged for either names it, so it counts the same)."""
        if principal is None:
            return False
        if principal in self._admin_names:
            return True
        now = self._clock()
        return any(
            stored.principal == principal and stored.scope == ADMIN_SCOPE and stored.usable(now)
            for stored in self._stored
        )

    def key_scope(self, presented: str | None) -> tuple[str, str] | None:
        """The name and scope of the API key presented (never a token), or None: what may be
        exchanged for an access token."""
        if not presented or looks_like_jwt(presented):
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        match = None
        for index, known in enumerate(self._digests):
            if hmac.compare_digest(digest, known) and match is None:
                match = (f"key-{index + 1}", "all")
        now = self._clock()
        for stored in self._stored:
            if hmac.compare_digest(digest, stored.digest) and match is None and stored.usable(now):
                match = (stored.principal, stored.scope)
        return match

    def scope_of(self, presented: str | None) -> str | None:
        """The scope of the key or token presented (all, openai or rest), or None."""
        if self.tokens is not None and presented and looks_like_jwt(presented):
            claims = self.tokens.claims(presented)
            return claims.scope if claims is not None else None
        match = self.key_scope(presented)
        return match[1] if match is not None else None

    def principal(self, presented: str | None, path: str = "") -> str | None:
        """Returns a non-secret name for the matching key ("key-1", "apikey-7"…), or None.

        `path` is the request path, checked against a stored key's (or a token's) scope;
        without one only keys of scope "all" or "admin" match (the web page).
        """
        if self.tokens is not None and presented and looks_like_jwt(presented):
            return self.tokens.principal(presented, path)
        match = self.key_scope(presented)
        if match is None or not scope_allows(match[1], path):
            return None
        return match[0]

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
        """Reloads the stored keys (and the token keys and revocations); on a store error the
        previous set stays in force."""
        if self.tokens is not None:
            await self.tokens.refresh()
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
        """Every `interval`, or within a second of a token signed by a key another replica
        has just made."""
        waited = 0.0
        while True:
            await asyncio.sleep(min(_TICK, interval))
            waited += min(_TICK, interval)
            if waited >= interval or (self.tokens is not None and self.tokens.unknown_kids):
                waited = 0.0
                await self.refresh()

    def require(self, request: Request) -> str:
        """The caller's principal, or AccessDenied (rendered as 401 by the app).

        Called inline rather than as a FastAPI dependency: dependencies cost a thread hop or a
        resolution pass on every request, measurable on the per-message path.
        """
        # The scope's path, not `request.url.path`: building the URL object cost 16 µs a call.
        name = self.principal(bearer_token(request), request.scope["path"])
        if name is None:
            raise AccessDenied("invalid API key")
        return name


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key") or None
