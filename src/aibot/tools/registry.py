"""The toolbox the tool loop asks: which tools a chat is offered, and running one call.

Every call is bounded (the source's timeout, `max_output_chars`), counted (`aibot_tool_calls`,
`aibot_tool_seconds`) and audited — who, which chat, which tool, the arguments with secrets and
personal data masked, how long, how it ended — whether it ran, failed, timed out or was refused.
A tool's failure becomes an error the model reads; it never ends the conversation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from aibot.core.messages import Tool, ToolCall
from aibot.core.tools import ToolCaller, ToolOutcome, matches
from aibot.ops.logging import SecretMasker
from aibot.ops.metrics import Metrics
from aibot.tools.base import ToolFailed, ToolSource

log = structlog.get_logger("aibot.tools")


@dataclass(frozen=True, slots=True)
class ToolAudit:
    """One audited call: `target` is the line the console's audit log shows."""

    actor: str
    action: str
    target: str


AuditSink = Callable[[ToolAudit], Awaitable[None]]


class ToolRegistry:
    def __init__(
        self,
        sources: Sequence[ToolSource],
        *,
        max_output_chars: int,
        metrics: Metrics,
        masker: SecretMasker,
        audit: AuditSink,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = list(sources)
        self._max_output = max_output_chars
        self._metrics = metrics
        self._masker = masker
        self._audit = audit
        self._monotonic = monotonic
        self._owners: dict[str, ToolSource] = {}

    async def offered(self, allowed: Sequence[str]) -> list[Tool]:
        """Only sources that may serve an allowed name are asked, so an MCP server no route
        allows is never even started."""
        found: list[Tool] = []
        for source in self.sources:
            if not _may_serve(source.name, allowed):
                continue
            for tool in await source.tools():
                if matches(tool.name, allowed):
                    self._owners[tool.name] = source
                    found.append(tool)
        return found

    def status(self) -> dict[str, dict[str, object]]:
        """Each MCP server's state for /readyz and the console: running, starts, tools, error."""
        states = {source.name: source.status() for source in self.sources}
        return {name: state for name, state in states.items() if state is not None}

    async def close(self) -> None:
        for source in self.sources:
            await source.close()

    def needs_confirm(self, name: str) -> bool:
        source = self._owners.get(name)
        return source is not None and source.needs_confirm(name)

    async def call(self, call: ToolCall, caller: ToolCaller) -> ToolOutcome:
        started = self._monotonic()
        arguments = _arguments(call.arguments)
        source = self._owners.get(call.name)
        if source is None:
            outcome = ToolOutcome(f"error: no tool named {call.name!r}", "unavailable")
        elif arguments is None:
            outcome = ToolOutcome("error: the arguments must be a JSON object", "error")
        else:
            outcome = await self._run(source, call.name, arguments, caller)
        outcome = ToolOutcome(self._bound(outcome.content), outcome.outcome)
        await self._record(call, caller, outcome, self._monotonic() - started)
        return outcome

    async def refuse(self, call: ToolCall, caller: ToolCaller, outcome: ToolOutcome) -> ToolOutcome:
        await self._record(call, caller, outcome, 0.0)
        return outcome

    async def _run(
        self, source: ToolSource, name: str, arguments: dict[str, Any], caller: ToolCaller
    ) -> ToolOutcome:
        try:
            async with asyncio.timeout(source.timeout):
                return await source.call(name, arguments, caller)
        except TimeoutError:
            return ToolOutcome(f"error: {name} timed out after {source.timeout:g} s", "timeout")
        except ToolFailed as exc:
            return ToolOutcome(f"error: {exc}", "error")
        except Exception as exc:
            log.warning("tool failed", tool=name, error=str(exc)[:300])
            return ToolOutcome(f"error: {name} failed ({type(exc).__name__})", "error")

    def _bound(self, text: str) -> str:
        if len(text) <= self._max_output:
            return text
        return text[: self._max_output] + f"\n…[cut: {len(text)} characters in all]"

    async def _record(
        self, call: ToolCall, caller: ToolCaller, outcome: ToolOutcome, seconds: float
    ) -> None:
        self._metrics.tool_calls.labels(call.name, outcome.outcome).inc()
        self._metrics.tool_latency.labels(call.name).observe(seconds)
        parsed = _arguments(call.arguments)
        shown = self._masker.mask(parsed if parsed is not None else call.arguments, pii=True)
        arguments = orjson.dumps(shown).decode()[:1000]
        target = (
            f"{caller.channel}:{caller.chat_id} {call.name} {arguments} "
            f"{seconds * 1000:.0f}ms {outcome.outcome}"
        )
        log.info(
            "tool call",
            tool=call.name,
            outcome=outcome.outcome,
            ms=round(seconds * 1000, 1),
            session=caller.session_key,
        )
        try:
            await self._audit(ToolAudit(f"{caller.channel}:{caller.user_id}", "tool.call", target))
        except Exception as exc:  # the answer matters more than its audit line; say so loudly
            log.error("tool call not audited", tool=call.name, error=str(exc)[:300])


def _arguments(text: str) -> dict[str, Any] | None:
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _may_serve(source: str, allowed: Sequence[str]) -> bool:
    """Whether a pattern in `allowed` can match a tool of `source` (`<source>__<tool>`); the
    built-ins (source "") are always asked."""
    if not source:
        return True
    prefix = f"{source}__"
    return any(
        p == "*" or p.startswith(prefix) or (p.endswith("*") and prefix.startswith(p[:-1]))
        for p in allowed
    )
