"""Issuing JWT access tokens: the signing keys every replica shares, rotation, revocation.

Signing keys live in the store (`token_signing_keys`, store/access_tokens.py; the private half
sealed like every other secret value when encryption at rest is on), so every replica signs and
verifies with the same keys and none is ever written to a log or a file. A new key is made every
`rotate_after`; it signs only once every replica has had time to load it (`publish_delay`), and
an old key is deleted once the last token it signed has expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aibot.admin.identity_providers import IdentityProviders
from aibot.channels.tokens import Revocations, TokenState, TokenVerifier, VerifyKey
from aibot.config.auth import JwtConfig
from aibot.store import access_tokens
from aibot.store.access_tokens import StoredSigningKey
from aibot.store.crypto import Cipher
from aibot.store.database import Database

if TYPE_CHECKING:  # PyJWT and these keys are imported when a token is first made or verified
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

# Tokens one key may get per minute: a client renews one every few minutes; more is a loop or an
# attempt to fill the revocation list.
TOKENS_PER_MINUTE = 60


class TooManyTokens(Exception):
    """This key asked for more than TOKENS_PER_MINUTE tokens in the last minute."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private: PrivateKey
    public_jwk: dict[str, Any]
    created_at: float


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    scope: str
    expires_in: int


def new_private_key(algorithm: str) -> PrivateKey:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1())


def public_jwk(private: PrivateKey, algorithm: str) -> dict[str, Any]:
    """The public half as a JWK, with its RFC 7638 thumbprint as `kid`."""
    import jwt

    algo = jwt.get_algorithm_by_name(algorithm)
    jwk: dict[str, Any] = json.loads(algo.to_jwk(private.public_key()))
    members = {k: jwk[k] for k in sorted(jwk) if k in ("crv", "e", "kty", "n", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest()
    kid = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
    return {**members, "kid": kid, "alg": algorithm, "use": "sig"}


class StoreRevocations:
    """Revoked ids in the store: enough for one process (and it survives a restart)."""

    def __init__(self, engine: Database) -> None:
        self._engine = engine

    async def revoke(self, jti: str, expires_at: float) -> None:
        await access_tokens.revoke(self._engine, jti, expires_at)

    async def current(self, now: float) -> set[str]:
        return await access_tokens.revoked(self._engine, now)


class TokenIssuer:
    def __init__(
        self,
        engine: Database,
        cipher: Cipher,
        config: JwtConfig,
        verifier: TokenVerifier,
        revocations: Revocations,
        *,
        clock: Callable[[], float],
        publish_delay: float,
        providers: IdentityProviders | None = None,
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._config = config
        self._verifier = verifier
        self._revocations = revocations
        self._clock = clock
        self._publish_delay = publish_delay
        self._keys: list[SigningKey] = []
        self._providers = providers
        self._recent: dict[str, deque[float]] = {}  # subject → issue times of the last minute

    def verify_key(self, key: SigningKey) -> VerifyKey:
        import jwt

        algorithm = jwt.get_algorithm_by_name(key.algorithm)
        return VerifyKey(
            key.algorithm,
            algorithm.from_jwk(json.dumps(key.public_jwk)),
            self._config.issuer,
            self._config.audience,
        )

    async def load(self) -> TokenState:
        """The state every replica verifies with: our keys, the providers', the revoked ids."""
        now = self._clock()
        stored = await access_tokens.signing_keys(
            self._engine, self._cipher, self._oldest_needed(now)
        )
        self._keys = [self._from_row(row) for row in stored]
        external = await self._providers.keys(now) if self._providers else {}
        keys = {**external, **{k.kid: self.verify_key(k) for k in self._keys}}
        return TokenState(keys, frozenset(await self._revocations.current(now)))

    def _oldest_needed(self, now: float) -> float | None:
        """Keys made before this signed nothing still valid: a newer key has been signing
        for longer than a token lasts. Deleting is by age, so every replica agrees."""
        superseded = [
            k.created_at
            for k in self._keys
            if k.created_at + self._publish_delay + self._config.ttl + self._config.leeway < now
        ]
        return max(superseded, default=None)

    @staticmethod
    def _from_row(stored: StoredSigningKey) -> SigningKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519

        private = serialization.load_pem_private_key(stored.private_pem.encode(), password=None)
        if not isinstance(private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError(f"signing key {stored.kid} is of an unexpected type")
        return SigningKey(
            stored.kid, stored.algorithm, private, stored.public_jwk, stored.created_at
        )

    async def _signing_key(self, now: float) -> SigningKey:
        mine = [k for k in self._keys if k.algorithm == self._config.algorithm]
        if not mine or now - mine[-1].created_at >= self._config.rotate_after:
            mine.append(await self._make_key(now))
        published = [k for k in mine if now - k.created_at >= self._publish_delay]
        return published[-1] if published else mine[-1]

    async def _make_key(self, now: float) -> SigningKey:
        from cryptography.hazmat.primitives import serialization

        algorithm = self._config.algorithm
        private = new_private_key(algorithm)
        jwk = public_jwk(private, algorithm)
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        key = SigningKey(jwk["kid"], algorithm, private, jwk, now)
        await access_tokens.add_signing_key(
            self._engine, self._cipher, StoredSigningKey(key.kid, algorithm, pem, jwk, now)
        )
        self._keys.append(key)
        self._verifier.add_key(key.kid, self.verify_key(key))
        return key

    def _count(self, subject: str, now: float) -> None:
        recent = self._recent.setdefault(subject, deque())
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= TOKENS_PER_MINUTE:
            raise TooManyTokens(subject)
        recent.append(now)

    async def issue(self, subject: str, scope: str) -> IssuedToken:
        import jwt

        now = self._clock()
        self._count(subject, now)
        key = await self._signing_key(now)
        jti = secrets.token_urlsafe(16)
        ttl = int(self._config.ttl)
        claims = {
            "iss": self._config.issuer,
            "sub": subject,
            "aud": self._config.audience,
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + ttl,
            "jti": jti,
            "scope": scope,
        }
        token = jwt.encode(claims, key.private, algorithm=key.algorithm, headers={"kid": key.kid})
        return IssuedToken(token, jti, scope, ttl)

    async def revoke(self, jti: str, expires_at: float) -> None:
        await self._revocations.revoke(jti, expires_at)
        self._verifier.add_revoked(jti)

    def jwks(self) -> dict[str, Sequence[dict[str, Any]]]:
        """Our public keys (not the identity providers'), for /.well-known/jwks.json."""
        return {"keys": [k.public_jwk for k in self._keys]}
