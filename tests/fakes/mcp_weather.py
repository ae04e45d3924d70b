"""A real MCP server written with the official SDK (`MCPServer`, v1's FastMCP), for the tool
tests and the README's example: run over stdio (no arguments) or streamable HTTP
(`--http PORT`).

Tools: `lookup_weather(city)`; `slow(seconds)` that takes its time (a hanging tool);
`crash()` that kills the server process (a crashing server); `secret_admin()` that no route
should offer; `teach()` that adds a tool and tells the client its list changed. Each start
appends a line to the file named by MCP_WEATHER_STARTS, so a test can count restarts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from mcp.server import MCPServer
from mcp.server.mcpserver import Context

server = MCPServer("weather")

FORECASTS = {"北京": "晴 -3°C", "上海": "多云 8°C", "beijing": "sunny -3°C"}


@server.tool()
def lookup_weather(city: str) -> str:
    """Today's weather in a city."""
    return f"{city}: {FORECASTS.get(city.lower(), FORECASTS.get(city, '小雨 12°C'))}"


@server.tool()
async def slow(seconds: float = 30.0) -> str:
    """Waits, then answers."""
    await asyncio.sleep(seconds)
    return "finally"


@server.tool()
def crash() -> str:
    """Ends the server process at once."""
    os._exit(3)


@server.tool()
def secret_admin() -> str:
    """Something no public chat may call."""
    return "the admin password is hunter2"


@server.tool()
async def teach(ctx: Context) -> str:
    """Adds the tool `learned` and says the tool list changed."""

    def learned() -> str:
        """A tool added while the server runs."""
        return "learned it"

    server.add_tool(learned)
    await ctx.request_context.session.send_tool_list_changed()
    return "taught"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, default=None, help="serve streamable HTTP on PORT")
    args = parser.parse_args()
    starts = os.environ.get("MCP_WEATHER_STARTS")
    if starts:
        with Path(starts).open("a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\n")
    if args.http is None:
        server.run()
    else:
        server.run("streamable-http", host="127.0.0.1", port=args.http)


if __name__ == "__main__":
    main()
