"""One MCP server as a tool source, over stdio with the SDK's own server: its tool list follows
`list_changed`, and a server that will not start is retried after a growing backoff."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from aibot.config import McpServerConfig
from aibot.core.tools import ToolCaller
from aibot.tools.base import ToolFailed
from aibot.tools.mcp_server import McpServer
from tests.support.clock import FakeClock

SERVER = Path(__file__).resolve().parents[1] / "fakes" / "mcp_weather.py"
CALLER = ToolCaller("u", "web", "c", "web:c", "UTC", "r")


@pytest.mark.timeout(90)
async def test_tool_list_follows_list_changed() -> None:
    server = McpServer("w", McpServerConfig(command=sys.executable, args=[str(SERVER)]))
    try:
        before = [t.name for t in await server.tools()]
        assert "w__lookup_weather" in before and "w__learned" not in before
        outcome = await server.call("w__teach", {}, CALLER)
        assert outcome.content == "taught"
        after = [t.name for t in await server.tools()]
        assert "w__learned" in after and server.starts == 1
    finally:
        await server.close()


async def test_a_server_that_cannot_start_backs_off() -> None:
    clock = FakeClock()
    server = McpServer("gone", McpServerConfig(command="/nonexistent/mcp-server"), monotonic=clock)
    assert await server.tools() == []  # unavailable: offered nothing, the chat goes on
    assert await server.tools() == [] and server.starts == 2  # the first retry is at once
    with pytest.raises(ToolFailed, match="restarting; try again in 1 s"):
        await server.call("gone__x", {}, CALLER)
    clock.advance(1.1)
    assert await server.tools() == [] and server.starts == 3
    with pytest.raises(ToolFailed, match="try again in 2 s"):
        await server.call("gone__x", {}, CALLER)
    await server.close()
