"""What the core knows of tools: who calls, what comes back, and the toolbox it asks.

The tools themselves (built-ins, MCP servers) live in `aibot/tools/`; the core only runs the
loop (`tool_loop.py`) over this small protocol, so it imports none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from aibot.core.messages import ReplyTarget, Tool, ToolCall

Outcome = Literal["ok", "error", "timeout", "denied", "unavailable"]


@dataclass(frozen=True, slots=True)
class ToolCaller:
    """Who asks for a tool, from which chat: what a tool scopes itself to (its own chat's
    history, its time zone) and what the audit records. Set by the gateway, never the model."""

    user_id: str
    channel: str
    chat_id: str
    session_key: str
    time_zone: str
    request_id: str
    language: str = "zh-CN"
    target: ReplyTarget | None = None  # where a question to the user goes (platform chats)


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """A tool's answer as the model reads it; `outcome` says how it went (for audit, metrics)."""

    content: str
    outcome: Outcome = "ok"

    @property
    def is_error(self) -> bool:
        return self.outcome != "ok"


class ToolBox(Protocol):
    async def offered(self, allowed: Sequence[str]) -> list[Tool]:
        """The tools matching `allowed` (names, or `server__*`) that can run now."""

    def needs_confirm(self, name: str) -> bool:
        """Whether the user must approve each call of `name` before it runs."""

    async def call(self, call: ToolCall, caller: ToolCaller) -> ToolOutcome:
        """Runs one call (audited, timed, output bounded); never raises for a tool's fault."""

    async def refuse(self, call: ToolCall, caller: ToolCaller, outcome: ToolOutcome) -> ToolOutcome:
        """Records a call that was not run (not offered, not approved) and returns `outcome`."""


class Confirmer(Protocol):
    async def ask(self, call: ToolCall, caller: ToolCaller) -> bool:
        """Asks the user to approve `call`; True once approved, False if denied or unanswered."""


def matches(name: str, allowed: Sequence[str]) -> bool:
    """`allowed` names a tool exactly, or ends in `*` for a prefix (`weather__*`), or is `*`."""
    for pattern in allowed:
        if pattern == name or (pattern.endswith("*") and name.startswith(pattern[:-1])):
            return True
    return False
