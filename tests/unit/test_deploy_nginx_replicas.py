"""`ai-bot deploy nginx --replica A --replica B`: the site for scale-out mode, run by a real
nginx in front of two loopback servers standing in for the replicas.

A conversation's requests (its `X-Session-Id`) must keep to one replica, which then serves it
from its cache (bench/README.md step 27: two replicas cost less per message when each
conversation keeps to one than when each message may land on either); requests without the
header are spread; the web chat's uploads and WebSocket keep to one replica per browser, since
an upload is kept where it was taken.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from aibot.deploy.options import DeployOptions
from aibot.deploy.render import render_nginx
from tests.support.cli import AI_BOT, COLUMNS
from tests.support.deploy_tools import REPO, nginx_main_config, nginx_test, require_tool
from tests.support.net import free_port


@pytest.fixture
async def replicas() -> AsyncIterator[list[str]]:
    """Two loopback servers that answer every request with their own index."""
    runners, addresses = [], []
    for index in range(2):

        async def answer(request: web.Request, index: int = index) -> web.StreamResponse:
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return web.Response(text=str(index))
            socket = web.WebSocketResponse(protocols=("graphql-transport-ws",))
            await socket.prepare(request)
            await socket.send_str(str(index))
            await socket.close()
            return socket

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        addresses.append(f"127.0.0.1:{runner.addresses[0][1]}")
    yield addresses
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def site(tmp_path: Path, replicas: list[str]) -> AsyncIterator[str]:
    """The rendered site for both replicas, run by nginx on a loopback port instead of 80."""
    nginx = require_tool("nginx", "nginx")
    port = free_port()
    rendered = render_nginx(DeployOptions(replicas=tuple(replicas)))["ai-bot.conf"]
    rendered = rendered.replace("listen 80;", f"listen 127.0.0.1:{port};")
    config = nginx_main_config(tmp_path, rendered.replace("listen [::]:80;", ""), serve=True)
    process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(config)])
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(200):  # until nginx listens
                try:
                    async with http.get(f"{url}/healthz"):
                        break
                except aiohttp.ClientConnectionError:
                    assert process.poll() is None, (tmp_path / "error.log").read_text()
                    await asyncio.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


async def replicas_reached(url: str, count: int, headers: dict[str, str] | None = None) -> set[str]:
    """Which replicas answered `count` POSTs to `url`."""
    answers: Counter[str] = Counter()
    async with aiohttp.ClientSession() as http:
        for _ in range(count):
            async with http.post(url, headers=headers, data=b"{}") as response:
                assert response.status == 200
                answers[await response.text()] += 1
    return set(answers)


async def test_a_conversation_keeps_to_one_replica_and_the_rest_is_spread(site: str) -> None:
    sessions = [f"conversation-{n}" for n in range(12)]
    homes = []
    for session in sessions:
        reached = await replicas_reached(
            f"{site}/v1/chat/completions", 6, {"X-Session-Id": session}
        )
        assert len(reached) == 1, f"{session} reached both replicas"
        homes.append(reached.pop())
    assert set(homes) == {"0", "1"}, "every conversation went to one replica"
    assert await replicas_reached(f"{site}/api/v1/chat", 6) == {"0", "1"}
    assert await replicas_reached(f"{site}/telegram/webhook", 6) == {"0", "1"}


async def test_a_browsers_uploads_keep_to_one_replica(site: str) -> None:
    """The page's upload token is good only on the replica that took it."""
    assert len(await replicas_reached(f"{site}/web/upload?session_id=s", 8)) == 1


def test_the_site_for_replicas_passes_nginx_t_and_one_address_has_no_hash(tmp_path: Path) -> None:
    several = render_nginx(DeployOptions(replicas=("10.0.0.11:18789", "[fd00::2]:18789")))
    one = render_nginx(DeployOptions())["ai-bot.conf"]
    for text in (several["ai-bot.conf"], one):
        checked = nginx_test(tmp_path, text)
        assert checked.returncode == 0, checked.stderr
    assert "server [fd00::2]:18789;" in several["ai-bot.conf"]
    assert "hash" not in one and one.count("server 127.0.0.1:18789;") == 2


@pytest.mark.parametrize(
    "value",
    [
        "10.0.0.11; evil",
        "10.0.0.11",
        "10.0.0.11:80\n",
        "10.0.0.11:99999",
        "10.0.0.11:0",
        "a" * 5000,
    ],
)
@pytest.mark.parametrize(
    ("lang", "message"),
    [
        ("en_US.UTF-8", "not a replica's address: '{value}'"),
        ("zh_CN.UTF-8", "“{value}”不是有效的副本地址"),
    ],
)
def test_a_replica_that_is_not_an_address_is_refused(lang: str, message: str, value: str) -> None:
    """A value pasted into the site could inject nginx directives (a `;`, a newline); a port
    in nginx's range is required, and a huge value is refused as fast as a short one."""
    result = subprocess.run(
        [str(AI_BOT), "deploy", "nginx", "--replica", value],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO / "deploy",
        env={"COLUMNS": COLUMNS, "LANG": lang},
    )
    assert result.returncode == 2 and message.format(value=value) in result.stderr, result.stderr


@pytest.mark.parametrize("path", ["/ws", "/graphql"])
async def test_websockets_are_upgraded_through_the_site(site: str, path: str) -> None:
    """The web chat's socket and GraphQL's subscriptions (graphql-transport-ws on /graphql):
    nginx passes an upgrade on only where the site says so."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{site}{path}", protocols=("graphql-transport-ws",)) as socket,
    ):
        assert (await socket.receive_str()) in {"0", "1"}
