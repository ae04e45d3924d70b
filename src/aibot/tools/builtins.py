"""The built-in tools, each off unless `tools.enabled` lists it: the date and time in the chat's
time zone, a calculator, reading a web page of an allowed host, searching this chat's history."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aibot.core.messages import Tool
from aibot.core.tools import ToolCaller, ToolOutcome
from aibot.tools.base import LocalTool, ToolFailed
from aibot.tools.calculator import calculate

_OBJECT = "object"


def _schema(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    return {"type": _OBJECT, "properties": properties, "required": list(required)}


def current_time_tool(clock: Callable[[], float] = time.time) -> LocalTool:
    async def run(_arguments: dict[str, Any], caller: ToolCaller) -> str:
        now = datetime.fromtimestamp(clock(), ZoneInfo(caller.time_zone))
        return f"{now.isoformat(timespec='seconds')} ({now.strftime('%A')}, {caller.time_zone})"

    return LocalTool(
        Tool(
            "current_time",
            "The current date, time and weekday in the user's time zone.",
            _schema({}),
        ),
        run,
    )


def calculator_tool() -> LocalTool:
    async def run(arguments: dict[str, Any], _caller: ToolCaller) -> str:
        expression = arguments.get("expression")
        if not isinstance(expression, str):
            raise ToolFailed("`expression` (a string) is required")
        return str(calculate(expression))

    return LocalTool(
        Tool(
            "calculator",
            "Evaluates an arithmetic expression exactly: + - * / // % ** ( ), pi, e, sqrt, "
            "log, sin, cos, round, min, max…",
            _schema(
                {"expression": {"type": "string", "description": "e.g. (1+2)*3/4 or sqrt(2)"}},
                ["expression"],
            ),
        ),
        run,
    )


class Builtins:
    """The enabled built-ins as one tool source (its tools keep their plain names)."""

    name = ""

    def __init__(
        self, tools: Iterable[LocalTool], *, timeout: float = 30.0, confirm: Sequence[str] = ()
    ) -> None:
        self._tools = {local.tool.name: local for local in tools}
        self.timeout = timeout
        self._confirm = set(confirm)

    async def tools(self) -> list[Tool]:
        return [local.tool for local in self._tools.values()]

    async def call(self, name: str, arguments: dict[str, Any], caller: ToolCaller) -> ToolOutcome:
        local = self._tools.get(name)
        if local is None:
            raise ToolFailed(f"no built-in tool {name!r}")
        return ToolOutcome(await local.run(arguments, caller))

    def needs_confirm(self, name: str) -> bool:
        return name in self._confirm

    def status(self) -> dict[str, object] | None:
        return None

    async def close(self) -> None:
        return None
