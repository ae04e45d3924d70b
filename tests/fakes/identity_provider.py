"""A company identity provider on loopback: publishes its JWKS and signs tokens with RS256, as
Keycloak or Azure AD would, so `auth.jwt.issuers` is tested against a real HTTP fetch."""

from __future__ import annotations

import json
import time
from types import TracebackType
from typing import Any, Self

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.loopback import LoopbackServer

ISSUER = "https://sso.example.test/realms/corp"


class FakeIdentityProvider:
    def __init__(self, kid: str = "corp-1") -> None:
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fetches = 0
        self._server = LoopbackServer()

    @property
    def jwks_url(self) -> str:
        return f"{self._server.base_url}/protocol/openid-connect/certs"

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "iat": now, "exp": now + 300, "jti": f"idp-{now}", **claims}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": self.kid, **header})

    async def _certs(self, _request: web.Request) -> web.Response:
        self.fetches += 1
        public = json.loads(jwt.get_algorithm_by_name("RS256").to_jwk(self.key.public_key()))
        return web.json_response({"keys": [{**public, "kid": self.kid, "use": "sig"}]})

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/protocol/openid-connect/certs", self._certs)
        await self._server.start(app)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()
