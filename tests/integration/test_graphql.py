"""/graphql through an independent client (`gql`, over aiohttp and over websockets with the
graphql-transport-ws protocol): queries with cursor pages, the sendMessage mutation, the
streamed answer subscription, and what is refused — no credential (HTTP and socket), a token
of scope rest asking for operator data, a query nested too deep, a forged cursor."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.tokens import access_token, bearer

SEND = """
mutation Send($session: String!, $text: String!) {
  sendMessage(sessionId: $session, message: $text) { reply sessionId provider command }
}"""
CONVERSATIONS = """
query Page($after: String) {
  conversations(first: 1, after: $after) {
    edges { cursor node { sessionKey channel turns(first: 1) {
      edges { node { role content } } pageInfo { hasNextPage endCursor } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


async def run(
    gw: RunningGateway, query: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    transport = AIOHTTPTransport(url=f"{gw.url}/graphql", headers=headers)
    async with Client(transport=transport) as session:
        result: dict[str, Any] = await session.execute(
            GraphQLRequest(query, variable_values=variables or None)
        )
        return result


async def test_queries_mutation_and_pages(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    for n in (1, 2):
        answer = await run(gw, SEND, gw.headers, session=f"g-{n}", text=f"问题 {n} 13800138000")
        assert answer["sendMessage"] == {
            "reply": f"echo: 问题 {n} 13800138000",
            "sessionId": f"g-{n}",
            "provider": "fake",
            "command": False,
        }
    first = (await run(gw, CONVERSATIONS, gw.headers))["conversations"]
    assert first["pageInfo"]["hasNextPage"] is True
    [edge] = first["edges"]
    assert edge["node"]["sessionKey"] == "api:key-1:g-2" and edge["node"]["channel"] == "api"
    turns = edge["node"]["turns"]
    # Masked as the console shows it.
    assert turns["edges"] == [{"node": {"role": "user", "content": "问题 2 [phone]"}}]
    assert turns["pageInfo"]["hasNextPage"] is True
    second = await run(gw, CONVERSATIONS, gw.headers, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["sessionKey"] for e in second["conversations"]["edges"]] == ["api:key-1:g-1"]
    assert second["conversations"]["pageInfo"]["hasNextPage"] is False

    overview = await run(
        gw,
        "{ models { name model default circuit } health { ready version storeOk }"
        " channels { name ok } usage { provider answers completionTokens } ratings { provider } }",
        gw.headers,
    )
    assert overview["models"] == [
        {"name": "fake", "model": "fake-model", "default": True, "circuit": "closed"}
    ]
    assert overview["health"]["ready"] is True and overview["health"]["storeOk"] is True
    assert {"name": "api", "ok": True} in overview["channels"]
    [usage] = overview["usage"]
    assert usage["provider"] == "fake" and usage["answers"] == 2
    assert overview["ratings"] == []


async def test_what_is_refused(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    with pytest.raises(TransportQueryError, match="UNAUTHENTICATED"):
        await run(gw, "{ __schema { types { name } } }", {})
    with pytest.raises(TransportQueryError, match="UNAUTHENTICATED"):
        await run(gw, "{ models { name } }", {"Authorization": "Bearer not-a-key"})
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{gw.url}/graphql", json={"query": "{ __typename }"}) as response,
    ):
        assert response.status == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    async with aiohttp.ClientSession() as http:
        rest = await access_token(http, gw, scope="rest")
        openai_only = await access_token(http, gw, scope="openai")
    assert (await run(gw, "{ models { name } }", bearer(rest)))["models"] == [{"name": "fake"}]
    # The words follow Accept-Language (test_graphql_language.py); the code never changes.
    with pytest.raises(TransportQueryError, match="'FORBIDDEN'"):
        await run(gw, "{ conversations { edges { cursor } } }", bearer(rest))
    with pytest.raises(TransportQueryError, match="UNAUTHENTICATED"):
        await run(gw, "{ models { name } }", bearer(openai_only))
    back = "{ conversations { edges { node { turns { edges { node { conversation { sessionKey"
    assert "conversations" in await run(gw, back + " } } } } } } } }", gw.headers)
    too_deep = back.replace("sessionKey", "turns { edges { node { role } } }")
    with pytest.raises(TransportQueryError, match="exceeds maximum operation depth"):
        await run(gw, too_deep + " } } } } } } } }", gw.headers)
    with pytest.raises(TransportQueryError, match="'BAD_USER_INPUT'"):
        await run(gw, CONVERSATIONS, gw.headers, after="bm90LWEtY3Vyc29y")


async def test_the_answer_streams_over_graphql_transport_ws(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory()
    url = f"{gw.url.replace('http', 'ws')}/graphql"
    subscription = GraphQLRequest(
        'subscription { answer(sessionId: "ws-1", message: "你好，世界") '
        "{ type text reply { reply sessionId } message } }"
    )
    transport = WebsocketsTransport(
        url=url,
        init_payload={"Authorization": f"Bearer {gw.api_key}"},
        subprotocols=["graphql-transport-ws"],
    )
    events: list[dict[str, Any]] = []
    async with Client(transport=transport) as session:
        async for result in session.subscribe(subscription):
            events.append(result["answer"])
    assert len([e for e in events if e["type"] == "delta"]) > 1
    assert "".join(e["text"] for e in events if e["type"] == "delta") == "echo: 你好，世界"
    assert events[-1]["type"] == "done"
    assert events[-1]["reply"] == {"reply": "echo: 你好，世界", "sessionId": "ws-1"}

    anonymous = WebsocketsTransport(url=url, subprotocols=["graphql-transport-ws"])
    with pytest.raises(TransportConnectionFailed) as refused:
        async with Client(transport=anonymous) as session:
            async for _ in session.subscribe(subscription):
                pass
    closed = refused.value.__cause__
    assert isinstance(closed, ConnectionClosed) and closed.rcvd is not None
    assert closed.rcvd.code == 4403
