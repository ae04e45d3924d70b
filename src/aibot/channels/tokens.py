"""Checking JWT access tokens on /v1, /api/v1, /graphql and the web page's socket.

A token is accepted only when its header names a key we hold (`kid`) for exactly the algorithm
that key was made for, so `alg: none`, an HMAC signed with a public key and a key a token
points to itself (`jku`, `x5u`, `jwk`) are all refused. Times are checked against the
injected clock (with `leeway`), not PyJWT's own. Everything a check needs — our public keys,
the identity providers' keys, the revoked ids — is held in memory and reloaded in the
background, so a request never waits on the store. PyJWT is imported when the first token
arrives, not at start.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

log = structlog.get_logger("aibot.tokens")

# Three base64url segments, the first a JSON object: cheap to tell a JWT from an API key.
_JWT_SHAPE = re.compile(r"^eyJ[A-Za-z0-9_-]{2,2048}\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{0,1024}$")
_USER = re.compile(r"^[\w.@:+-]{1,128}$")
REQUIRED = ("exp", "iat", "jti", "sub", "aud")


def looks_like_jwt(presented: str) -> bool:
    return _JWT_SHAPE.match(presented) is not None


@dataclass(frozen=True)
class VerifyKey:
    """A public key tokens may be signed with, and the one algorithm it is good for."""

    algorithm: str
    key: Any  # a cryptography public key object
    issuer: str
    audience: str
    scope: str | None = None  # None: the token's own `scope` claim decides (our tokens)
    user_claim: str = "sub"
    principal_prefix: str = ""


@dataclass
class TokenState:
    """What verification needs, replaced whole on every reload."""

    keys: dict[str, VerifyKey] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Claims:
    principal: str
    scope: str
    jti: str
    expires_at: float


class Revocations(Protocol):
    """Revoked token ids, shared by every replica (Redis) or kept in the store (one process)."""

    async def revoke(self, jti: str, expires_at: float) -> None: ...

    async def current(self, now: float) -> set[str]: ...


StateLoader = Callable[[], Awaitable[TokenState]]


class TokenVerifier:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        leeway: float,
        allows: Callable[[str, str], bool],
    ) -> None:
        self._clock = clock
        self._leeway = leeway
        self._allows = allows  # (scope, path) → whether the scope opens the path
        self._state = TokenState()
        self._loader: StateLoader | None = None
        self.unknown_kids = 0  # tokens naming a key not (yet) known here: reload sooner

    def use(self, loader: StateLoader) -> None:
        self._loader = loader

    async def refresh(self) -> None:
        """Reloads keys and revocations; on failure the previous state stays in force."""
        if self._loader is None:
            return
        try:
            self._state = await self._loader()
        except Exception as exc:
            log.warning("could not reload token keys; keeping the last set", error=str(exc)[:300])
        self.unknown_kids = 0

    def add_key(self, kid: str, key: VerifyKey) -> None:
        """A key this process just made verifies here at once, before the next reload."""
        self._state = TokenState({**self._state.keys, kid: key}, self._state.revoked)

    def add_revoked(self, jti: str) -> None:
        self._state = TokenState(self._state.keys, self._state.revoked | {jti})

    @property
    def public_keys(self) -> Mapping[str, VerifyKey]:
        return self._state.keys

    def claims(self, token: str) -> Claims | None:
        """The checked claims of `token`, or None when anything about it is wrong."""
        import jwt  # only a gateway that is shown tokens needs PyJWT (and its cryptography)

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        kid = header.get("kid")
        key = self._state.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            self.unknown_kids += 1
            return None
        try:
            payload = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=key.audience,
                issuer=key.issuer,
                options={
                    "require": [*REQUIRED, "iss"],
                    "verify_exp": False,  # checked below against the injected clock
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError:
            return None
        return self._checked(payload, key)

    def _checked(self, payload: dict[str, Any], key: VerifyKey) -> Claims | None:
        now = self._clock()
        times = [payload.get(n) for n in ("exp", "iat", "nbf")]
        if not all(t is None or isinstance(t, int | float) for t in times):
            return None
        exp, iat, nbf = times
        if exp is None or iat is None or now >= exp + self._leeway:
            return None
        if iat > now + self._leeway or (nbf is not None and nbf > now + self._leeway):
            return None
        jti, user = payload.get("jti"), payload.get(key.user_claim)
        if not isinstance(jti, str) or jti in self._state.revoked:
            return None
        if not isinstance(user, str) or not _USER.match(user):
            return None
        scope = key.scope or payload.get("scope")
        if not isinstance(scope, str):
            return None
        return Claims(key.principal_prefix + user, scope, jti, float(exp))

    def principal(self, token: str, path: str) -> str | None:
        claims = self.claims(token)
        if claims is None or not self._allows(claims.scope, path):
            return None
        return claims.principal
