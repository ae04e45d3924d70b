"""The same gateway on PostgreSQL: memory, inbox dedupe and restart behave as on SQLite."""

from __future__ import annotations

import aiohttp

from tests.fakes.openai_server import FakeOpenAI
from tests.support.databases import postgres_database
from tests.support.gateway import GatewayFactory


async def test_gateway_on_postgresql(gateway_factory: GatewayFactory, fake_llm: FakeOpenAI) -> None:
    async with postgres_database() as url:
        gw = await gateway_factory({"storage": {"url": url}})
        async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/readyz") as response:
            assert (await response.json())["store"]["backend"] == "postgresql"
        assert (await gw.chat("on postgres", session="pg"))[0] == 200
        await gw.restart()
        assert (await gw.chat("after restart", session="pg"))[0] == 200
        contents = [m["content"] for m in fake_llm.requests[-1].json["messages"]]
        assert contents == ["on postgres", "echo: on postgres", "after restart"]
        await gw.stop()
