"""A signed-in console user exchanges the session for a short-lived access token at
`POST /admin/api/token`: it works on /graphql with the caller's own rights; no session is 401,
a request without the session's CSRF token (what a page on another site can send) is 403, and
a viewer's token reads but cannot send messages."""

from __future__ import annotations

from typing import Any

import aiohttp
import jwt
import pytest
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError

from tests.support.admin_http import Console, create_user
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.tokens import bearer

TOKEN = "/admin/api/token"
SEND = 'mutation { sendMessage(sessionId: "c-1", message: "你好") { reply } }'
READ = "query { conversations(first: 1) { edges { node { sessionKey } } } }"


async def run(gw: RunningGateway, query: str, token: str) -> dict[str, Any]:
    transport = AIOHTTPTransport(url=f"{gw.url}/graphql", headers=bearer(token))
    async with Client(transport=transport) as session:
        result: dict[str, Any] = await session.execute(GraphQLRequest(query))
        return result


async def console_token(console: Console) -> dict[str, Any]:
    _status, html = await console.page("/admin")
    async with console.http.post(
        console.gw.url + TOKEN, headers={"X-CSRF-Token": console.csrf(html)}
    ) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Cache-Control"] == "no-store"
        answer: dict[str, Any] = await response.json()
        return answer


async def test_a_console_session_becomes_a_token(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    await create_user(gw, "alice", "operator")
    await create_user(gw, "victor", "viewer")
    async with aiohttp.ClientSession() as http, http.post(gw.url + TOKEN) as response:
        assert response.status == 401  # no session
    async with Console(gw) as console:
        assert (await console.login("alice"))[0] == 303
        async with console.http.post(gw.url + TOKEN) as response:
            assert response.status == 403  # the cookie alone, as another site could send it
        answer = await console_token(console)
        assert answer["token_type"] == "Bearer" and answer["scope"] == "all"
        claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
        assert claims["sub"] == "console:alice" and claims["exp"] - claims["iat"] == 900
        sent = await run(gw, SEND, answer["access_token"])
        assert sent["sendMessage"]["reply"] == "echo: 你好"
        assert (await run(gw, READ, answer["access_token"]))["conversations"]["edges"]
        _status, audit = await console.page("/admin/audit")
        assert "token.issue" in audit
        assert answer["access_token"] not in gw.log()
    async with Console(gw) as viewer:
        assert (await viewer.login("victor"))[0] == 303
        answer = await console_token(viewer)
        assert answer["scope"] == "read"
        token = answer["access_token"]
        assert (await run(gw, READ, token))["conversations"]["edges"]
        # In ui.default_language (zh-CN) without Accept-Language, as REST's refusals.
        with pytest.raises(TransportQueryError, match=r"只读令牌不能发送消息.*'FORBIDDEN'"):
            await run(gw, SEND, token)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{gw.url}/api/v1/chat",
                json={"session_id": "v-1", "message": "hi"},
                headers=bearer(token),
            ) as response:
                assert response.status == 401  # scope read opens /graphql only
            async with http.get(f"{gw.url}/v1/models", headers=bearer(token)) as response:
                assert response.status == 401
