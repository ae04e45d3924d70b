"""JWT access tokens: what the verifier refuses (expired, not yet valid, wrong audience, wrong
key, `alg: none`, HMAC with the public key, revoked), key rotation with old keys verifying until
their tokens expire, revocation seen by a second "replica" on the same store, and tokens of a
company identity provider fetched from its JWKS URL."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select

from aibot.admin.access_tokens import (
    TOKENS_PER_MINUTE,
    StoreRevocations,
    TokenIssuer,
    TooManyTokens,
)
from aibot.admin.identity_providers import IdentityProviders
from aibot.channels.api_keys import ApiKeys, scope_allows
from aibot.channels.tokens import TokenVerifier
from aibot.config.auth import IssuerConfig, JwtConfig
from aibot.store.crypto import PLAIN
from aibot.store.database import Database
from aibot.store.schema import token_signing_keys
from tests.fakes.identity_provider import ISSUER, FakeIdentityProvider
from tests.support.clock import FakeClock

PUBLISH = 11.0


def replica(
    engine: Database,
    clock: FakeClock,
    config: JwtConfig | None = None,
    providers: IdentityProviders | None = None,
) -> tuple[TokenVerifier, TokenIssuer]:
    config = config or JwtConfig(ttl=900, rotate_after=3600, leeway=5)
    verifier = TokenVerifier(clock=clock, leeway=config.leeway, allows=scope_allows)
    issuer = TokenIssuer(
        engine,
        PLAIN,
        config,
        verifier,
        StoreRevocations(engine),
        clock=clock,
        publish_delay=PUBLISH,
        providers=providers,
    )
    verifier.use(issuer.load)
    return verifier, issuer


def forged(claims: dict[str, Any], header: dict[str, Any], key: Any, alg: str) -> str:
    return jwt.encode(claims, key, algorithm=alg, headers=header)


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def engine(sql_engine: Database) -> Database:
    return sql_engine


async def test_a_token_opens_its_scope_and_names_its_key(engine: Database) -> None:
    clock = FakeClock()
    verifier, issuer = replica(engine, clock)
    keys = ApiKeys(["sk-config"], clock=clock, tokens=verifier)
    rest = await issuer.issue("key-1", "rest")
    assert keys.principal(rest.token, "/api/v1/chat") == "key-1"
    assert keys.principal(rest.token, "/graphql") == "key-1"
    assert keys.principal(rest.token, "/v1/models") is None
    assert keys.principal(rest.token, "") is None  # the web page needs scope all
    everything = await issuer.issue("key-1", "all")
    assert keys.principal(everything.token, "") == "key-1"
    assert keys.key_scope(everything.token) is None  # a token is never exchanged for another
    claims = jwt.decode(rest.token, options={"verify_signature": False})
    assert set(claims) >= {"exp", "iat", "nbf", "jti", "sub", "scope", "aud", "iss"}
    assert claims["exp"] - claims["iat"] == 900
    assert jwt.get_unverified_header(rest.token)["alg"] == "EdDSA"


async def test_expired_and_not_yet_valid_tokens_are_refused(engine: Database) -> None:
    clock = FakeClock()
    verifier, issuer = replica(engine, clock)
    issued = await issuer.issue("key-1", "all")
    clock.advance(900 + 4)
    assert verifier.principal(issued.token, "/v1/models") == "key-1"  # within the leeway
    clock.advance(2)
    assert verifier.principal(issued.token, "/v1/models") is None
    key = issuer._keys[-1]
    header = {"kid": key.kid}
    now = int(clock.now)
    base = {"sub": "key-1", "aud": "ai-bot", "iss": "ai-bot", "jti": "j", "scope": "all"}
    early = {**base, "iat": now, "nbf": now + 60, "exp": now + 600}
    assert verifier.principal(forged(early, header, key.private, "EdDSA"), "/v1/x") is None
    future = {**base, "iat": now + 60, "exp": now + 600}
    assert verifier.principal(forged(future, header, key.private, "EdDSA"), "/v1/x") is None
    fine = {**base, "iat": now, "exp": now + 600}
    assert verifier.principal(forged(fine, header, key.private, "EdDSA"), "/v1/x") == "key-1"


async def test_wrong_audience_key_and_algorithm_are_refused(engine: Database) -> None:
    clock = FakeClock()
    verifier, issuer = replica(engine, clock)
    await issuer.issue("key-1", "all")
    key = issuer._keys[-1]
    now = int(clock.now)
    claims = {
        "sub": "key-1",
        "aud": "ai-bot",
        "iss": "ai-bot",
        "jti": "j",
        "scope": "all",
        "iat": now,
        "exp": now + 600,
    }
    header = {"kid": key.kid}
    assert (
        verifier.principal(
            forged({**claims, "aud": "other"}, header, key.private, "EdDSA"), "/v1/x"
        )
        is None
    )
    assert (
        verifier.principal(forged({**claims, "iss": "evil"}, header, key.private, "EdDSA"), "/v1/x")
        is None
    )
    stranger = ed25519.Ed25519PrivateKey.generate()
    assert verifier.principal(forged(claims, header, stranger, "EdDSA"), "/v1/x") is None
    unsigned = f"{b64({'alg': 'none', 'kid': key.kid})}.{b64(claims)}."
    assert verifier.principal(unsigned, "/v1/x") is None
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hmac_header = f"{b64({'alg': 'HS256', 'kid': key.kid})}.{b64(claims)}"
    signature = jwt.get_algorithm_by_name("HS256").sign(hmac_header.encode(), public_pem)
    confused = hmac_header + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    assert verifier.principal(confused, "/v1/x") is None
    no_kid = forged(claims, {}, key.private, "EdDSA")
    assert verifier.principal(no_kid, "/v1/x") is None
    assert verifier.principal(forged(claims, header, key.private, "EdDSA"), "/v1/x") == "key-1"


async def test_keys_rotate_and_old_ones_verify_until_their_tokens_expire(
    engine: Database,
) -> None:
    clock = FakeClock()
    verifier, issuer = replica(engine, clock)
    first = await issuer.issue("key-1", "all")
    clock.advance(3600 - 10)
    late = await issuer.issue("key-1", "all")  # signed by the first key, valid for 15 more min
    clock.advance(10)
    during = await issuer.issue("key-1", "all")  # the new key exists but is not published yet
    kid = jwt.get_unverified_header
    assert kid(first.token)["kid"] == kid(late.token)["kid"] == kid(during.token)["kid"]
    clock.advance(PUBLISH)
    rotated = await issuer.issue("key-1", "all")
    assert kid(rotated.token)["kid"] != kid(first.token)["kid"]
    await verifier.refresh()
    assert {k["kid"] for k in issuer.jwks()["keys"]} == {
        kid(first.token)["kid"],
        kid(rotated.token)["kid"],
    }
    assert verifier.principal(late.token, "/v1/x") == "key-1"
    assert verifier.principal(rotated.token, "/v1/x") == "key-1"
    clock.advance(900 + 5 + 1)
    await verifier.refresh()  # the first key has signed nothing still valid: gone
    assert [k["kid"] for k in issuer.jwks()["keys"]] == [kid(rotated.token)["kid"]]
    assert verifier.principal(late.token, "/v1/x") is None
    async with engine.connect() as connection:
        stored = (await connection.execute(select(token_signing_keys.c.private_key))).scalars()
        assert all(value.startswith("-----BEGIN PRIVATE KEY") for value in stored)


async def test_a_revocation_reaches_another_replica_on_the_same_store(
    engine: Database,
) -> None:
    clock = FakeClock()
    verifier_a, issuer_a = replica(engine, clock)
    verifier_b, _issuer_b = replica(engine, clock)
    issued = await issuer_a.issue("key-1", "all")
    assert verifier_b.principal(issued.token, "/v1/x") is None  # key not loaded there yet
    assert verifier_b.unknown_kids == 1  # so its refresher reloads within a second
    await verifier_b.refresh()
    assert verifier_b.principal(issued.token, "/v1/x") == "key-1"
    claims = verifier_a.claims(issued.token)
    assert claims is not None
    await issuer_a.revoke(claims.jti, claims.expires_at)
    assert verifier_a.principal(issued.token, "/v1/x") is None
    await verifier_b.refresh()
    assert verifier_b.principal(issued.token, "/v1/x") is None
    other = await issuer_a.issue("key-1", "all")
    assert verifier_b.principal(other.token, "/v1/x") == "key-1"


async def test_tokens_of_the_company_identity_provider(engine: Database) -> None:
    clock = FakeClock()
    async with FakeIdentityProvider() as idp:
        corp = IssuerConfig(
            name="corp",
            issuer=ISSUER,
            jwks_url=idp.jwks_url,
            audience="ai-bot-gw",
            user_claim="preferred_username",
        )
        verifier, _issuer = replica(
            engine, clock, JwtConfig(issuers=[corp], leeway=5), IdentityProviders([corp])
        )
        await verifier.refresh()
        clock.now = time.time()
        good = idp.sign({"aud": "ai-bot-gw", "preferred_username": "alice", "sub": "u-1"})
        assert verifier.principal(good, "/api/v1/chat") == "idp:corp:alice"
        assert verifier.principal(good, "/v1/models") is None  # its scope is rest
        wrong_aud = idp.sign({"aud": "another-app", "preferred_username": "alice", "sub": "u"})
        assert verifier.principal(wrong_aud, "/api/v1/chat") is None
        pointed = idp.sign(
            {"aud": "ai-bot-gw", "preferred_username": "eve", "sub": "u"},
            jku="http://127.0.0.1:9/evil.json",
        )
        assert verifier.principal(pointed, "/api/v1/chat") == "idp:corp:eve"
        assert idp.fetches == 1  # the configured URL only, once per refetch period


async def test_a_key_gets_at_most_sixty_tokens_a_minute(engine: Database) -> None:
    clock = FakeClock()
    _verifier, issuer = replica(engine, clock)
    for _ in range(TOKENS_PER_MINUTE):
        await issuer.issue("key-1", "all")
    with pytest.raises(TooManyTokens):
        await issuer.issue("key-1", "all")
    await issuer.issue("key-2", "all")  # another key is not held back
    clock.advance(60)
    await issuer.issue("key-1", "all")
