"""One MCP server as a source of tools, with the official SDK (`mcp` v2).

Started on first use (the first message whose route allows one of its tools), then kept alive:
one supervisor task holds the SDK client open (the SDK's task groups must be entered and left in
one task) while calls from any conversation go through it. When the server dies — a stdio
process that exits, an HTTP endpoint that drops — the supervisor ends, the failing call becomes
a tool error, and the next use starts it again after a backoff that doubles (1 s … 60 s) while
it keeps failing. Its tool list is cached and fetched again when the server says it changed
(`notifications/tools/list_changed`) or after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import mcp_types
import orjson
import structlog
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from aibot.config import McpServerConfig
from aibot.core.messages import Tool
from aibot.core.tools import ToolCaller, ToolOutcome
from aibot.tools.base import ToolFailed

log = structlog.get_logger("aibot.tools.mcp")

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI-style function names allow
START_TIMEOUT = 30.0
BACKOFF_MAX = 60.0
MAX_PAGES = 20


class McpServer:
    def __init__(
        self,
        name: str,
        config: McpServerConfig,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.timeout = config.timeout
        self._config = config
        self._monotonic = monotonic
        self._client: Client | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._start_lock = asyncio.Lock()
        self._tools: list[Tool] | None = None
        self._failures = 0
        self._not_before = 0.0
        self._error: str | None = None
        self.starts = 0  # how many times it was started (the console and tests read it)

    # -- the ToolSource protocol

    async def tools(self) -> list[Tool]:
        try:
            client = await self._running()
            if self._tools is None:
                self._tools = await self._list(client)
        except Exception as exc:
            log.warning("MCP server unavailable", server=self.name, error=str(exc)[:300])
            return []
        return self._tools

    async def call(self, name: str, arguments: dict[str, Any], caller: ToolCaller) -> ToolOutcome:
        client = await self._running()
        tool = name.removeprefix(f"{self.name}__")
        try:
            result = await client.call_tool(tool, arguments, read_timeout_seconds=self.timeout)
        except MCPError as exc:
            if exc.code == mcp_types.REQUEST_TIMEOUT:
                return ToolOutcome(f"error: {name} timed out after {self.timeout:g} s", "timeout")
            if exc.code == mcp_types.CONNECTION_CLOSED:
                self._broken("connection closed")
                raise ToolFailed(f"the {self.name} server stopped; it will be restarted") from None
            raise ToolFailed(f"{name}: {exc.message}"[:500]) from None
        except (OSError, EOFError) as exc:
            self._broken(type(exc).__name__)
            raise ToolFailed(f"the {self.name} server stopped; it will be restarted") from None
        self._failures = 0
        return ToolOutcome(_text_of(result), "error" if result.is_error else "ok")

    def needs_confirm(self, name: str) -> bool:
        tool = name.removeprefix(f"{self.name}__")
        return "*" in self._config.confirm or tool in self._config.confirm

    async def close(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._supervisor, 10)

    def status(self) -> dict[str, object] | None:
        return {
            "running": self._client is not None,
            "starts": self.starts,
            "tools": len(self._tools or []),
            "error": self._error,
        }

    # -- keeping it running

    def _alive(self) -> Client | None:
        running = self._supervisor is not None and not self._supervisor.done()
        return self._client if running else None

    async def _running(self) -> Client:
        if (client := self._alive()) is not None:
            return client
        async with self._start_lock:
            if (client := self._alive()) is not None:
                return client
            if self._supervisor is not None and not self._supervisor.done():
                self._stop.set()  # the old connection is closing: let it finish first
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(self._supervisor), 10)
            wait = self._not_before - self._monotonic()
            if wait > 0:
                raise ToolFailed(f"the {self.name} server is restarting; try again in {wait:.0f} s")
            self._ready.clear()
            self._stop.clear()
            self._tools = None
            self.starts += 1
            self._supervisor = asyncio.create_task(self._supervise(), name=f"mcp:{self.name}")
            ready = asyncio.ensure_future(self._ready.wait())
            await asyncio.wait({ready, self._supervisor}, timeout=START_TIMEOUT,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
            ready.cancel()
            if self._client is None:
                self._stop.set()
                self._backoff()
                raise ToolFailed(
                    f"the {self.name} server did not start: {self._error or 'timeout'}"
                )
            return self._client

    async def _supervise(self) -> None:
        try:
            async with self._connection() as client:
                self._client = client
                self._error = None
                self._ready.set()
                log.info("MCP server started", server=self.name)
                await self._stop.wait()
        except Exception as exc:
            self._error = _describe(exc)
            log.warning("MCP server stopped", server=self.name, error=self._error)
        finally:
            self._client = None
            self._tools = None

    def _broken(self, why: str) -> None:
        self._client = None  # no call may use the dead connection while it closes
        self._error = why
        self._backoff()
        self._stop.set()

    def _backoff(self) -> None:
        """The first restart is at once; then 1, 2, 4 … 60 s while starts keep failing."""
        delay = 0.0 if self._failures == 0 else min(BACKOFF_MAX, 2.0 ** (self._failures - 1))
        self._failures += 1
        self._not_before = self._monotonic() + delay

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Client]:
        config = self._config
        if config.command is not None:
            params = StdioServerParameters(
                command=config.command,
                args=config.args,
                env={k: v.get_secret_value() for k, v in config.env.items()} or None,
                cwd=config.cwd,
            )
            async with Client(params, mode="legacy", message_handler=self._on_message) as client:
                yield client
            return
        assert config.url is not None
        headers = {k: v.get_secret_value() for k, v in config.headers.items()}
        async with create_mcp_http_client(headers=headers) as http:
            transport: AbstractAsyncContextManager[Any] = streamable_http_client(
                config.url, http_client=http
            )
            async with Client(transport, mode="legacy", message_handler=self._on_message) as client:
                yield client

    async def _on_message(self, message: Any) -> None:
        """Notifications arrive inline: only mark the list stale, never block here."""
        if isinstance(message, mcp_types.ToolListChangedNotification):
            self._tools = None
        elif isinstance(message, Exception):
            log.info("MCP transport message", server=self.name, error=_describe(message))

    async def _list(self, client: Client) -> list[Tool]:
        found: list[Tool] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await asyncio.wait_for(
                client.list_tools(cursor=cursor, cache_mode="refresh"), self.timeout
            )
            for tool in page.tools:
                name = f"{self.name}__{tool.name}"
                if not _NAME.match(name):
                    log.warning("MCP tool name not usable", server=self.name, tool=tool.name[:80])
                    continue
                found.append(Tool(name, tool.description, dict(tool.input_schema)))
            cursor = page.next_cursor
            if cursor is None:
                break
        return found


def _text_of(result: mcp_types.CallToolResult) -> str:
    """Text blocks as they are; other blocks named, never pasted (no base64 in prompts)."""
    parts: list[str] = []
    for block in result.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        else:
            parts.append(f"[{block.type} omitted]")
    if not parts and result.structured_content is not None:
        parts.append(orjson.dumps(result.structured_content, default=str).decode())
    return "\n".join(parts) or "(no output)"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _describe(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}"[:300]
