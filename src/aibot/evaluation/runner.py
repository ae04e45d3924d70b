"""Putting every case to every model, a bounded number of calls at a time.

A failed call is recorded on its answer and scored as a failure later: one model timing out
on one case must not lose the other models' answers or end the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from aibot.core.messages import ChatRequest, Message
from aibot.evaluation.dataset import Case
from aibot.evaluation.judge import Judge
from aibot.providers.base import Provider, ProviderError


@dataclass(slots=True)
class Answer:
    """What one model said to one case, how long it took and what it cost."""

    text: str | None = None
    error: str | None = None
    latency: float | None = None  # seconds; only for answered calls
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judge: int | None = None  # 1–5 when a judge graded it


def request_for(case: Case) -> ChatRequest:
    return ChatRequest(messages=[*case.history, Message("user", case.question)])


async def ask(provider: Provider, case: Case) -> Answer:
    started = time.perf_counter()
    try:
        result = await provider.chat(request_for(case))
    except ProviderError as exc:
        return Answer(error=str(exc))
    return Answer(
        text=result.text,
        latency=time.perf_counter() - started,
        prompt_tokens=result.usage.prompt_tokens,
        completion_tokens=result.usage.completion_tokens,
    )


async def run_cases(
    cases: Sequence[Case],
    providers: Mapping[str, Provider],
    *,
    concurrency: int,
    judge: Judge | None = None,
    on_done: Callable[[], None] = lambda: None,
) -> dict[str, list[Answer]]:
    """Answers per provider name, in case order. The judge grades each answer in the same
    slot, so `concurrency` bounds the judge's calls too."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    slots = asyncio.Semaphore(concurrency)
    answers: dict[str, list[Answer]] = {name: [Answer()] * len(cases) for name in providers}

    async def one(name: str, index: int) -> None:
        async with slots:
            answer = await ask(providers[name], cases[index])
            if judge is not None and answer.text is not None:
                answer.judge = await judge.grade(cases[index], answer.text)
        answers[name][index] = answer
        on_done()

    async with asyncio.TaskGroup() as group:
        for index in range(len(cases)):
            for name in providers:
                group.create_task(one(name, index))
    return answers
