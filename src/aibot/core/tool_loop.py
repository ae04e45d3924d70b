"""The tool loop: the model asks for tools, they run, their results go back, until it answers.

Bounded three ways: `max_rounds` model calls, a total time `budget` (tools still running when it
ends are cut off and reported to the model as timed out), and the last call carries no tools, so
the model must answer in words. Calls of one round run side by side. A tool the model names that
was not offered is never run: the model is told it is unavailable. Every round's assistant
message and tool result is kept (`LoopResult.transcript`) so the turn is stored as it happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aibot.core.messages import ChatRequest, ChatResult, Message, Tool, ToolCall, Usage
from aibot.core.pipeline import DeltaSink
from aibot.core.tools import Confirmer, ToolBox, ToolCaller, ToolOutcome
from aibot.i18n import join_list

Complete = Callable[[ChatRequest], Awaitable[ChatResult]]  # one model call, streamed as set
StatusText = Callable[[str, str], str]  # (language, tool names) → the status line


@dataclass(frozen=True, slots=True)
class LoopLimits:
    max_rounds: int = 5
    budget: float = 90.0


@dataclass(slots=True)
class LoopResult:
    result: ChatResult  # the last model call's answer: what the user is sent
    usage: Usage  # of every round
    transcript: list[Message] = field(default_factory=list)  # tool calls and results, in order


class ToolLoop:
    def __init__(
        self,
        toolbox: ToolBox,
        limits: LoopLimits,
        status_text: StatusText,
        *,
        confirmer: Confirmer | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.toolbox = toolbox
        self.limits = limits
        self._status_text = status_text
        self._confirmer = confirmer
        self._monotonic = monotonic

    async def run(
        self,
        request: ChatRequest,
        tools: list[Tool],
        caller: ToolCaller,
        complete: Complete,
        on_status: DeltaSink | None,
    ) -> LoopResult:
        deadline = self._monotonic() + self.limits.budget
        offered = {tool.name for tool in tools}
        messages = list(request.messages)
        transcript: list[Message] = []
        usage = Usage()
        for round_number in range(self.limits.max_rounds):
            last = round_number == self.limits.max_rounds - 1 or self._monotonic() >= deadline
            step = ChatRequest(
                messages,
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                tools=None if last else tools,
            )
            result = await complete(step)
            usage.prompt_tokens += result.usage.prompt_tokens
            usage.completion_tokens += result.usage.completion_tokens
            if last or not result.tool_calls:
                return LoopResult(result, usage, transcript)
            asked = Message(
                "assistant", result.text, reasoning=result.reasoning, tool_calls=result.tool_calls
            )
            if on_status is not None:
                names = join_list(
                    caller.language, dict.fromkeys(call.name for call in result.tool_calls)
                )
                await on_status(self._status_text(caller.language, names))
            outcomes = await self._run_calls(result.tool_calls, offered, caller, deadline)
            answers = [
                Message("tool", outcome.content, tool_call_id=call.id, name=call.name)
                for call, outcome in zip(result.tool_calls, outcomes, strict=True)
            ]
            messages += [asked, *answers]
            transcript += [asked, *answers]
        raise AssertionError("unreachable: the last round returns")

    async def _run_calls(
        self, calls: tuple[ToolCall, ...], offered: set[str], caller: ToolCaller, deadline: float
    ) -> list[ToolOutcome]:
        """Asks first (one question at a time; the wait is not charged to the budget), then
        runs the allowed calls side by side within what is left of the budget."""
        asked_at = self._monotonic()
        refusals = [await self._refusal(call, offered, caller) for call in calls]
        deadline += self._monotonic() - asked_at
        tasks = [
            asyncio.ensure_future(self.toolbox.call(call, caller))
            for call, refusal in zip(calls, refusals, strict=True)
            if refusal is None
        ]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=max(0.0, deadline - self._monotonic()))
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        ran = iter(tasks)
        return [refusal if refusal is not None else _outcome(next(ran)) for refusal in refusals]

    async def _refusal(
        self, call: ToolCall, offered: set[str], caller: ToolCaller
    ) -> ToolOutcome | None:
        """Why `call` must not run (recorded), or None when it may."""
        if call.name not in offered:
            refusal = ToolOutcome(f"error: no tool named {call.name!r} is available", "unavailable")
        elif self.toolbox.needs_confirm(call.name) and (
            self._confirmer is None or not await self._confirmer.ask(call, caller)
        ):
            refusal = ToolOutcome("error: the user did not approve this call", "denied")
        else:
            return None
        return await self.toolbox.refuse(call, caller, refusal)


def _outcome(task: asyncio.Future[ToolOutcome]) -> ToolOutcome:
    if task.cancelled():
        return ToolOutcome("error: the time for tools ran out", "timeout")
    return task.result()
