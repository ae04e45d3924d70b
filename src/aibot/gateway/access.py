"""Wires JWT access tokens from `auth.jwt`: the verifier every keyed route uses, the issuer
behind /api/v1/token, and where revocations are shared (Redis with `redis.url`, else the
store)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from aibot.admin.access_tokens import StoreRevocations, TokenIssuer
from aibot.admin.identity_providers import IdentityProviders
from aibot.channels.api_keys import scope_allows
from aibot.channels.tokens import Revocations, TokenVerifier
from aibot.config import Config
from aibot.store.crypto import Cipher

if TYPE_CHECKING:
    import redis.asyncio as redis

    from aibot.store.database import Database


class AccessTokens:
    def __init__(
        self, config: Config, engine: Database, cipher: Cipher, clock: Callable[[], float]
    ) -> None:
        jwt = config.auth.jwt
        self.verifier = TokenVerifier(clock=clock, leeway=jwt.leeway, allows=scope_allows)
        self._redis: redis.Redis | None = None
        revocations: Revocations = StoreRevocations(engine)
        if config.redis.url:
            from aibot.policy.shared import client_for
            from aibot.replicas.revocations import RedisRevocations

            self._redis = client_for(config.redis.url)
            revocations = RedisRevocations(self._redis)
        self.issuer = TokenIssuer(
            engine,
            cipher,
            jwt,
            self.verifier,
            revocations,
            clock=clock,
            # A new key signs only after every replica has reloaded its keys (twice over).
            publish_delay=2 * config.channels.api.key_refresh + 1,
            providers=IdentityProviders(jwt.issuers) if jwt.issuers else None,
        )
        self.verifier.use(self.issuer.load)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
