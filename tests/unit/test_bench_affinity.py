"""`bench/run.py --independent`: the independent processes share no store, so each must keep
whole conversations (a conversation split over two of them has half its history on each and
costs less per message than on one process or on the replicas); the replicas keep the
balancer without affinity."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from bench.load import drive, gateway_body, gateway_ok


@pytest.fixture
async def two_servers() -> AsyncIterator[tuple[list[str], dict[str, set[int]]]]:
    """Two loopback servers answering as the gateway's REST chat; which one each
    conversation reached."""
    reached: dict[str, set[int]] = defaultdict(set)
    runners, urls = [], []
    for index in range(2):

        async def chat(request: web.Request, index: int = index) -> web.Response:
            reached[(await request.json())["session_id"]].add(index)
            return web.json_response({"reply": "ok"})

        app = web.Application()
        app.router.add_post("/chat", chat)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}/chat")
    yield urls, reached
    for runner in runners:
        await runner.cleanup()


@pytest.mark.parametrize("affinity", [True, False])
async def test_with_affinity_each_conversation_stays_on_one_process(
    two_servers: tuple[list[str], dict[str, set[int]]], affinity: bool
) -> None:
    urls, reached = two_servers
    async with aiohttp.ClientSession() as http:
        run = await drive(
            http,
            urls,
            count=120,
            concurrency=5,
            conversations=10,
            make_body=gateway_body,
            is_ok=gateway_ok,
            affinity=affinity,
        )
    assert len(run.latencies) == 120
    split = [key for key, servers in reached.items() if len(servers) > 1]
    assert (split == []) is affinity
    assert set().union(*reached.values()) == {0, 1}  # both carry load either way
