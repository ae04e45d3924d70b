"""What a source of tools (the built-ins, one MCP server) offers the registry."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aibot.core.messages import Tool
from aibot.core.tools import ToolCaller, ToolOutcome


class ToolFailed(Exception):
    """A tool's own failure, told to the model as a tool error (never a crashed turn)."""


@dataclass(frozen=True, slots=True)
class LocalTool:
    """A tool run in this process: its description for the model and its function."""

    tool: Tool
    run: Callable[[dict[str, Any], ToolCaller], Awaitable[str]]


class ToolSource(Protocol):
    name: str
    timeout: float

    async def tools(self) -> list[Tool]:
        """The tools it offers now (may start a server); empty when it cannot run."""

    async def call(self, name: str, arguments: dict[str, Any], caller: ToolCaller) -> ToolOutcome:
        """Runs `name`; a failure of the tool is an outcome, an `Exception` is the source's."""

    def needs_confirm(self, name: str) -> bool: ...

    def status(self) -> dict[str, object] | None:
        """What /readyz shows of it (a server's state); None for in-process tools."""

    async def close(self) -> None: ...
