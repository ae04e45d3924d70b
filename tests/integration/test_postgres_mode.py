"""The same gateway on PostgreSQL: memory, inbox dedupe and restart behave as on SQLite."""

from __future__ import annotations

import aiohttp

from tests.conftest import GatewayFactory, postgres_database
from tests.fakes.openai_server import FakeOpenAI


async def test_gateway_on_postgresql(gateway_factory: GatewayFactory,
                                     fake_llm: FakeOpenAI) -> None:
    async with postgres_database() as url:
        gw = await gateway_factory({"storage": {"url": url}})
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{gw.url}/readyz") as response:
                assert (await response.json())["store"]["backend"] == "postgresql"
            async with http.post(f"{gw.url}/api/v1/chat", headers=gw.headers,
                                 json={"session_id": "pg", "message": "on postgres"}) as r:
                assert r.status == 200
            await gw.restart()
            async with http.post(f"{gw.url}/api/v1/chat", headers=gw.headers,
                                 json={"session_id": "pg", "message": "after restart"}) as r:
                assert r.status == 200
        contents = [m["content"] for m in fake_llm.requests[-1].json["messages"]]
        assert contents == ["on postgres", "echo: on postgres", "after restart"]
        await gw.stop()
