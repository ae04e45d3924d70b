"""JWT access tokens on a running gateway: exchanged for the API key, accepted on /v1,
/api/v1 and the web page's socket, published keys at /.well-known/jwks.json, and a revocation
on one replica refused by the other (PostgreSQL store, private Redis)."""

from __future__ import annotations

import asyncio

import aiohttp
import jwt

from tests.support.databases import SERVER_DATABASES, redis_database
from tests.support.gateway import GatewayFactory
from tests.support.tokens import access_token, bearer
from tests.support.waiting import eventually


async def status_of(http: aiohttp.ClientSession, url: str, token: str) -> int:
    async with http.get(url, headers=bearer(token)) as response:
        return response.status


async def test_a_token_works_where_the_key_does(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory({"channels": {"webchat": {"require_key": True}}})
    async with aiohttp.ClientSession() as http:
        token = await access_token(http, gw)
        async with http.get(f"{gw.url}/.well-known/jwks.json") as response:
            jwks = await response.json()
        [published] = jwks["keys"]
        assert published["kid"] == jwt.get_unverified_header(token)["kid"]
        assert published["kty"] == "OKP" and "d" not in published  # the public half only
        claims = jwt.decode(
            token,
            jwt.PyJWK(published).key,
            algorithms=["EdDSA"],
            audience="ai-bot",
            issuer="ai-bot",
        )
        assert claims["sub"] == "key-1" and claims["scope"] == "all"

        assert await status_of(http, f"{gw.url}/v1/models", token) == 200
        async with http.post(
            f"{gw.url}/api/v1/chat",
            json={"session_id": "jwt-1", "message": "你好"},
            headers=bearer(token),
        ) as response:
            assert response.status == 200
            assert (await response.json())["reply"] == "echo: 你好"
        ws = await http.ws_connect(f"{gw.url.replace('http', 'ws')}/ws")
        await ws.send_json({"type": "hello", "key": token})
        assert (await ws.receive_json(timeout=10))["type"] == "ready"
        await ws.close()

        rest = await access_token(http, gw, scope="rest")
        assert await status_of(http, f"{gw.url}/v1/models", rest) == 401
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert await status_of(http, f"{gw.url}/v1/models", tampered) == 401
        async with http.post(f"{gw.url}/api/v1/token", headers=bearer(token)) as response:
            assert response.status == 401  # a token never renews itself
        async with http.post(f"{gw.url}/api/v1/token", json={"scope": "all"}) as response:
            assert response.status == 401
    assert token not in gw.log()


async def test_a_revocation_on_one_replica_holds_on_the_other(
    gateway_factory: GatewayFactory,
) -> None:
    async with SERVER_DATABASES["postgresql"]() as store, redis_database() as redis_url:
        config = {"storage": {"url": store}, "redis": {"url": redis_url}}
        first = await gateway_factory(config, name="replica0")
        second = await gateway_factory(config, name="replica1")
        async with aiohttp.ClientSession() as http:
            token = await access_token(http, first)

            async def second_accepts() -> bool:
                return await status_of(http, f"{second.url}/v1/models", token) == 200

            assert await eventually(second_accepts, timeout=10)
            async with http.post(
                f"{first.url}/api/v1/token/revoke", json={"token": token}, headers=first.headers
            ) as response:
                assert (await response.json()) == {"revoked": True}
            assert await status_of(http, f"{first.url}/v1/models", token) == 401

            async def second_refuses() -> bool:
                return await status_of(http, f"{second.url}/v1/models", token) == 401

            assert await eventually(second_refuses, timeout=15)
            assert (
                await status_of(http, f"{second.url}/v1/models", await access_token(http, second))
                == 200
            )
        await asyncio.gather(first.stop(), second.stop())
