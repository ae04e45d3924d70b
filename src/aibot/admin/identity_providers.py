"""The company's identity providers (`auth.jwt.issuers`): their public keys, fetched from the
JWKS URL the config names — never from a URL a token names — bounded in size and time, and
kept for `REFETCH` seconds. A provider that cannot be reached keeps its last keys."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import structlog

from aibot.channels.tokens import VerifyKey
from aibot.config.auth import IssuerConfig

if TYPE_CHECKING:
    import aiohttp

log = structlog.get_logger("aibot.tokens")

REFETCH = 600.0  # seconds a provider's key set is kept before it is fetched again
MAX_JWKS_BYTES = 256 * 1024
TIMEOUT_SECONDS = 5.0


class IdentityProviders:
    def __init__(self, issuers: list[IssuerConfig]) -> None:
        self._issuers = issuers
        self._keys: dict[str, dict[str, VerifyKey]] = {}
        self._fetched: dict[str, float] = {}

    async def keys(self, now: float) -> dict[str, VerifyKey]:
        """Every provider's keys by `kid`, fetching the sets that are due."""
        due = [i for i in self._issuers if now - self._fetched.get(i.name, -REFETCH) >= REFETCH]
        if due:
            import aiohttp  # at the first key set fetched, not at start

            timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                await asyncio.gather(*(self._fetch(http, issuer, now) for issuer in due))
        merged: dict[str, VerifyKey] = {}
        for keys in self._keys.values():
            merged.update(keys)
        return merged

    async def _fetch(self, http: aiohttp.ClientSession, issuer: IssuerConfig, now: float) -> None:
        import aiohttp

        try:
            async with http.get(issuer.jwks_url, allow_redirects=False) as response:
                response.raise_for_status()
                body = await response.content.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError(f"key set larger than {MAX_JWKS_BYTES} bytes")
            self._keys[issuer.name] = parse_jwks(json.loads(body), issuer)
            self._fetched[issuer.name] = now
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning(
                "could not fetch an identity provider's keys; keeping the last ones",
                issuer=issuer.name,
                error=str(exc)[:300],
            )


def parse_jwks(document: Any, issuer: IssuerConfig) -> dict[str, VerifyKey]:
    """The signing keys of a JWKS document for the algorithms allowed for `issuer`."""
    import jwt  # imported when a provider's keys first arrive, not at start

    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError("not a JWKS document (no 'keys' list)")
    keys: dict[str, VerifyKey] = {}
    for entry in entries[:50]:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("use", "sig") != "sig":
            continue
        for algorithm in issuer.algorithms:
            if entry.get("alg", algorithm) != algorithm:
                continue
            try:
                key = jwt.PyJWK(entry, algorithm).key
            except jwt.PyJWTError:
                continue
            keys[entry["kid"]] = VerifyKey(
                algorithm,
                key,
                issuer.issuer,
                issuer.audience,
                scope=issuer.scope,
                user_claim=issuer.user_claim,
                principal_prefix=f"idp:{issuer.name}:",
            )
            break
    return keys
