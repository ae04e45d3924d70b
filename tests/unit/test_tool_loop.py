"""The tool loop and the calculator in process: status lines, the time budget, refusals, and
the calculator's bounds (no eval, no giant numbers)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from aibot.core.messages import ChatRequest, ChatResult, Message, Tool, ToolCall, Usage
from aibot.core.tool_loop import Complete, LoopLimits, ToolLoop
from aibot.core.tools import ToolCaller, ToolOutcome
from aibot.tools.base import ToolFailed
from aibot.tools.calculator import calculate
from aibot.tools.texts import status_text

CALLER = ToolCaller("u", "web", "c", "web:c", "UTC", "r1", language="en")


class Box:
    def __init__(self, hang: bool = False, confirm: bool = False) -> None:
        self.ran: list[str] = []
        self.refused: list[str] = []
        self._hang = hang
        self._confirm = confirm

    async def offered(self, allowed: Sequence[str]) -> list[Tool]:
        return [Tool("slow"), Tool("fast")]

    def needs_confirm(self, name: str) -> bool:
        return self._confirm

    async def call(self, call: ToolCall, caller: ToolCaller) -> ToolOutcome:
        self.ran.append(call.name)
        if self._hang and call.name == "slow":
            await asyncio.sleep(60)
        return ToolOutcome(f"{call.name} done")

    async def refuse(self, call: ToolCall, caller: ToolCaller, outcome: ToolOutcome) -> ToolOutcome:
        self.refused.append(outcome.outcome)
        return outcome


def model(calls: list[tuple[ToolCall, ...]]) -> tuple[list[ChatRequest], Complete]:
    seen: list[ChatRequest] = []

    async def complete(request: ChatRequest) -> ChatResult:
        seen.append(request)
        asked = calls.pop(0) if calls else ()
        text = "" if asked else "final: " + "|".join(m.content for m in request.messages[1:])
        return ChatResult(text, None, Usage(1, 1), "p", "m", tool_calls=asked)

    return seen, complete


async def test_status_line_results_and_transcript() -> None:
    box = Box()
    seen, complete = model([(ToolCall("1", "slow", "{}"), ToolCall("2", "fast", "{}"))])
    statuses: list[str] = []

    async def status(text: str) -> None:
        statuses.append(text)

    loop = ToolLoop(box, LoopLimits(5, 10.0), status_text)
    done = await loop.run(
        ChatRequest([Message("user", "hi")]), [Tool("slow"), Tool("fast")], CALLER,
        complete, status,
    )  # fmt: skip
    assert statuses == ["🔧 calling slow, fast…\n"]
    assert done.result.text.endswith("slow done|fast done")
    assert [m.role for m in done.transcript] == ["assistant", "tool", "tool"]
    assert done.usage.prompt_tokens == 2 and seen[0].tools and seen[1].tools
    assert status_text("zh-CN", "lookup_weather") == "🔧 正在调用 lookup_weather…\n"


async def test_budget_cuts_a_hanging_tool_and_last_round_has_no_tools() -> None:
    box = Box(hang=True)
    seen, complete = model([(ToolCall("1", "slow", "{}"), ToolCall("2", "fast", "{}"))])
    loop = ToolLoop(box, LoopLimits(5, 0.3), status_text)
    done = await loop.run(
        ChatRequest([Message("user", "hi")]),
        [Tool("slow")],
        CALLER,
        complete,
        None,
    )
    tool_texts = [m.content for m in done.transcript if m.role == "tool"]
    assert tool_texts[0].startswith("error: the time for tools ran out")
    assert seen[-1].tools is None  # out of time: the model must answer now


async def test_unoffered_and_unconfirmed_calls_never_run() -> None:
    box = Box(confirm=True)
    _, complete = model([(ToolCall("1", "slow", "{}"), ToolCall("2", "secret", "{}"))])
    loop = ToolLoop(box, LoopLimits(5, 10.0), status_text)
    await loop.run(
        ChatRequest([Message("user", "hi")]),
        [Tool("slow")],
        CALLER,
        complete,
        None,
    )
    assert box.ran == [] and sorted(box.refused) == ["denied", "unavailable"]


@pytest.mark.parametrize(
    ("expression", "value"),
    [("6*7", 42), ("2^10", 1024), ("sqrt(16)", 4.0), ("(1+2)*3/4", 2.25), ("-3 % 2", 1)],
)
def test_calculator(expression: str, value: float) -> None:
    assert calculate(expression) == value


@pytest.mark.parametrize(
    "expression",
    [
        "__import__('os').system('id')",
        "().__class__",
        "9**9**9",
        "10**5000",
        "(2**4000)*(2**4000)",
        "1e308*10",
        "1/0",
        "-" * 400 + "1",
        "x",
        "",
    ],
)
def test_calculator_refuses(expression: str) -> None:
    with pytest.raises(ToolFailed):
        calculate(expression)
