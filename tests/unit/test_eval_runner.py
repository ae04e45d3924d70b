"""The runner: bounded concurrency, answers in case order, failures recorded not raised."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from aibot.core.messages import ChatRequest, ChatResult, Message, StreamDelta, Usage
from aibot.evaluation.dataset import Case
from aibot.evaluation.judge import Judge
from aibot.evaluation.runner import run_cases
from aibot.providers.base import ProviderError


class CountingProvider:
    """Answers `<name>:<question>` after a short wait, tracking calls in flight."""

    def __init__(self, name: str, gauge: list[int], fail_on: str | None = None) -> None:
        self.name = name
        self.model = f"{name}-model"
        self.gauge = gauge  # [in flight now, most ever in flight]
        self.fail_on = fail_on
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        self.gauge[0] += 1
        self.gauge[1] = max(self.gauge[1], self.gauge[0])
        try:
            await asyncio.sleep(0.01)
        finally:
            self.gauge[0] -= 1
        question = request.messages[-1].content
        if question == self.fail_on:
            raise ProviderError(f"{self.name}: HTTP 500: boom", provider=self.name, status=500)
        return ChatResult(f"{self.name}:{question}", None, Usage(3, 2), self.name, self.model)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamDelta]:
        raise NotImplementedError("the runner only uses chat()")

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_calls_are_bounded_and_answers_keep_case_order(concurrency: int) -> None:
    gauge = [0, 0]
    cases = [Case(str(i), f"q{i}", "r") for i in range(10)]
    providers = {"a": CountingProvider("a", gauge), "b": CountingProvider("b", gauge, "q4")}
    done: list[None] = []
    answers = await run_cases(
        cases, providers, concurrency=concurrency, on_done=lambda: done.append(None)
    )
    assert gauge[1] == concurrency and len(done) == 20
    assert [a.text for a in answers["a"]] == [f"a:q{i}" for i in range(10)]
    failed = answers["b"][4]
    assert failed.text is None and failed.error == "b: HTTP 500: boom" and failed.latency is None
    assert answers["b"][5].prompt_tokens == 3 and answers["b"][5].latency is not None


async def test_history_is_sent_before_the_question_and_the_judge_grades_answers() -> None:
    gauge = [0, 0]
    model = CountingProvider("a", gauge)
    grader = CountingProvider("judge", gauge)
    case = Case("1", "and now?", "r", history=(Message("user", "before"),))
    answers = await run_cases([case], {"a": model}, concurrency=2, judge=Judge(grader))
    assert [(m.role, m.content) for m in model.requests[0].messages] == [
        ("user", "before"),
        ("user", "and now?"),
    ]
    prompt = grader.requests[0].messages
    assert prompt[0].role == "system" and "Score: N" in prompt[0].content
    assert "Assistant's answer:\na:and now?" in prompt[1].content
    assert answers["a"][0].judge is None  # "judge:…" has no score in it: left out, not a 1


async def test_zero_concurrency_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        await run_cases([], {}, concurrency=0)
