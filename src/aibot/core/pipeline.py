"""The pipeline: an ordered list of small async stages over one `TurnContext`.

A stage reads and fills in the context; setting `finished` skips the remaining stages (a command
answered, a message refused). Finalizers run whatever happened, so persistence is never skipped
by accident. Adding a stage is adding one entry to the list in `core/stages.py`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aibot.core.errors import ModelUnavailable
from aibot.core.messages import Inbound, Message, Usage
from aibot.core.sessions import SessionState, WriteOp
from aibot.ops.metrics import Metrics

DeltaSink = Callable[[str], Awaitable[None]]
Stage = Callable[["TurnContext"], Awaitable[None]]


@dataclass(slots=True)
class TurnContext:
    inbound: Inbound
    now: float
    on_delta: DeltaSink | None = None
    session: SessionState | None = None
    messages: list[Message] = field(default_factory=list)
    provider: str | None = None
    reply: str | None = None
    reasoning: str | None = None
    model: str | None = None
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    is_command: bool = False
    # Set by policy stages before the model: who may do what, and how this message is answered.
    is_admin: bool = True
    route: str | None = None
    provider_choice: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    max_turns: int | None = None
    keep_turn: bool = True  # False: the exchange is answered but not remembered (a refusal)
    notes: dict[str, Any] = field(default_factory=dict)  # a stage's data for a later one
    error: str | None = None
    finished: bool = False
    conversation_changes: dict[str, Any] = field(default_factory=dict)
    writes: list[WriteOp] = field(default_factory=list)

    def answer(self, text: str) -> None:
        """Ends the turn with a reply produced by a stage rather than the model."""
        self.reply = text
        self.finished = True


class Pipeline:
    def __init__(
        self,
        stages: list[tuple[str, Stage]],
        finalizers: list[tuple[str, Stage]],
        metrics: Metrics,
    ) -> None:
        self.stages = stages
        self.finalizers = finalizers
        self._timers = {
            name: metrics.stage_latency.labels(name) for name, _ in (*stages, *finalizers)
        }

    async def run(self, ctx: TurnContext) -> TurnContext:
        try:
            for name, stage in self.stages:
                if ctx.finished:
                    break
                started = time.perf_counter()
                await stage(ctx)
                self._timers[name].observe(time.perf_counter() - started)
        except ModelUnavailable as exc:
            ctx.error = str(exc)
            ctx.finished = True
        for name, stage in self.finalizers:
            started = time.perf_counter()
            await stage(ctx)
            self._timers[name].observe(time.perf_counter() - started)
        return ctx
