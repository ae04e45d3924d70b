"""MCP servers through a running gateway: a real server written with the SDK, over stdio and
over streamable HTTP, driven by the fake model's tool calls (plain and streamed)."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import CallTools, FakeOpenAI
from tests.support.gateway import GatewayFactory
from tests.support.net import free_port
from tests.support.tool_calls import answer_from_tools, stream_chat, tool_audit, tool_names
from tests.support.waiting import wait_until

SERVER = Path(__file__).resolve().parents[1] / "fakes" / "mcp_weather.py"
ALLOWED = ["weather__lookup_weather", "weather__slow", "weather__crash"]


def stdio_config(starts: Path, **server: Any) -> dict[str, Any]:
    return {
        "tools": {
            "mcp": {
                "weather": {
                    "command": sys.executable,
                    "args": [str(SERVER)],
                    "env": {"MCP_WEATHER_STARTS": str(starts)},
                    **server,
                }
            }
        },
        "routes": [
            {"name": "weather", "match": {"prefix": "天气"}, "tools": ALLOWED},
            {"name": "public", "match": {"prefix": "public"}},
        ],
    }


def call(name: str, arguments: str = "{}") -> CallTools:
    return CallTools(((f"weather__{name}", arguments),))


@pytest.mark.timeout(180)
async def test_stdio_server_answers_times_out_restarts_and_hides_what_is_not_allowed(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    fake_llm.reply = answer_from_tools
    starts = tmp_path / "starts.log"
    gw = await gateway_factory(stdio_config(starts, timeout=2))
    _, body = await gw.chat("public hello", session="p")
    assert body["reply"] == "echo: public hello" and not starts.exists()  # lazily started

    fake_llm.script(call("lookup_weather", '{"city": "北京"}'))
    _, body = await gw.chat("天气 北京", session="w")
    assert body["reply"] == "tools said: 北京: 晴 -3°C", body
    offered = tool_names(fake_llm.chat_requests()[-2])
    assert sorted(offered) == sorted(ALLOWED)  # secret_admin and teach are never offered

    fake_llm.script(call("secret_admin"))
    _, body = await gw.chat("天气 admin", session="w")
    assert "no tool named 'weather__secret_admin'" in body["reply"]

    fake_llm.script(call("slow", '{"seconds": 30}'))
    _, body = await gw.chat("天气 slow", session="w")
    assert "timed out after 2 s" in body["reply"], body

    fake_llm.script(call("crash"))
    _, body = await gw.chat("天气 crash", session="w")
    assert "stopped; it will be restarted" in body["reply"], body
    fake_llm.script(call("lookup_weather", '{"city": "上海"}'))
    _, body = await gw.chat("天气 上海", session="w")
    assert body["reply"] == "tools said: 上海: 多云 8°C", body
    assert len(starts.read_text().split()) == 2  # started once, restarted once
    async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/readyz") as response:
        mcp = (await response.json())["mcp"]["weather"]
    assert mcp == {"running": True, "starts": 2, "tools": 5, "error": None}

    outcomes = [target.rsplit(" ", 1)[1] for _, target in tool_audit(gw)]
    assert outcomes == ["ok", "unavailable", "timeout", "error", "ok"]


async def test_streamed_tool_calls_over_stdio(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(stdio_config(tmp_path / "starts.log"))
    fake_llm.script(call("lookup_weather", '{"city": "Beijing"}'))
    reply, deltas = await stream_chat(gw, "天气 in Beijing", "s")
    assert reply == "tools said: Beijing: sunny -3°C" and "".join(deltas) == reply
    assert fake_llm.chat_requests()[0]["stream"] is True


@pytest.fixture
async def http_server(tmp_path: Path) -> AsyncIterator[str]:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SERVER), "--http", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=(tmp_path / "mcp-http.log").open("wb"),
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/mcp"

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    assert await wait_until(listening, timeout=30)
    yield url
    process.terminate()
    await process.wait()


async def test_streamable_http_server(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI, http_server: str
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(
        {
            "tools": {"mcp": {"weather": {"url": http_server, "headers": {"X-Team": "ops"}}}},
            "routes": [{"name": "all", "tools": ["weather__*"]}],
        }
    )
    fake_llm.script(call("lookup_weather", '{"city": "北京"}'))
    _, body = await gw.chat("北京天气", session="h")
    assert body["reply"] == "tools said: 北京: 晴 -3°C", body
    assert "weather__secret_admin" in tool_names(fake_llm.chat_requests()[0])  # `*`: all
    fake_llm.script(call("lookup_weather", '{"city": "上海"}'))
    reply, _ = await stream_chat(gw, "上海天气", "h2")
    assert reply == "tools said: 上海: 多云 8°C"
