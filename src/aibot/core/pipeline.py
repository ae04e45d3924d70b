"""The pipeline: an ordered list of stages over one `TurnContext`; the list is in
`aibot/message_path.py`.

A stage is either a step (`async def __call__(ctx)`: it reads and fills in the context) or a
`Middleware` (`async def __call__(ctx, call_next)`), for a stage that needs to act both before and
after the stages that follow it: it runs its before part, awaits `call_next(ctx)` (every later
stage), then its after part, with whatever it needs to carry across in its own local variables.
Setting `finished` (a command answered, a message refused, a cached answer) skips the remaining
stages, but the after parts of the middlewares already entered still run — that is how the turn is
persisted whatever happened. A `ModelUnavailable` raised by a stage ends the turn the same way,
with `error` set, so the middlewares around it still see it through.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aibot import i18n
from aibot.core.errors import ModelUnavailable
from aibot.core.messages import ChatResult, Inbound, Message, StreamDelta, Usage
from aibot.core.sessions import SessionState, WriteOp

DeltaSink = Callable[[str], Awaitable[None]]
ChunkSink = Callable[[StreamDelta], Awaitable[None]]
Step = Callable[["TurnContext"], Awaitable[None]]
Next = Callable[["TurnContext"], Awaitable[None]]


@dataclass(slots=True)
class TurnContext:
    inbound: Inbound
    now: float
    on_delta: DeltaSink | None = None
    on_chunk: ChunkSink | None = None  # a pass-through's stream: every event whole
    on_status: DeltaSink | None = None  # a short status while a tool runs ("🔧 calling …")
    session: SessionState | None = None
    messages: list[Message] = field(default_factory=list)
    # True when `messages` carry the gateway's stored history (sent instead of the caller's).
    gateway_history: bool = False
    result: ChatResult | None = None  # the model's answer as the provider gave it
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
    max_turns: int | None = None  # the route's; None: `session.max_turns`
    filters: bool = True  # the route's sensitive-word checks apply to this message
    tools: tuple[str, ...] = ()  # the tools the route allows (names or `server__*`)
    time_zone: str | None = None  # the route's; None: `tools.time_zone`
    tool_turns: list[Message] = field(default_factory=list)  # tool calls and results, in order
    keep_turn: bool = True  # False: the exchange is answered but not remembered (a refusal)
    error: str | None = None
    failure: ModelUnavailable | None = None  # what `error` says, for callers that map it
    refusal: str | None = None  # why a policy refused: rate_limit, quota, sensitive_words…
    retry_after: float | None = None  # seconds until a refused caller may try again
    finished: bool = False
    conversation_changes: dict[str, Any] = field(default_factory=dict)
    # Attachments made usable (media/stage.py): the new message's image parts, the image parts
    # of earlier turns still in the context (by request id), and the provider that can see them.
    media_parts: list[dict[str, Any]] = field(default_factory=list)
    history_parts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    provider_override: str | None = None
    writes: list[WriteOp] = field(default_factory=list)

    @property
    def language(self) -> i18n.Language:
        """The language of the gateway's own replies in this turn (see `aibot.i18n`)."""
        return i18n.pick(self.inbound.target.locale)

    def answer(self, text: str) -> None:
        """Ends the turn with a reply produced by a stage rather than the model."""
        self.reply = text
        self.finished = True


class Middleware(ABC):
    """A stage with a before and an after part around the stages listed after it."""

    @abstractmethod
    async def __call__(self, ctx: TurnContext, call_next: Next) -> None:
        """Runs the before part, `await call_next(ctx)`, then the after part.

        `call_next` returns at once when the turn is already finished, so a middleware never
        checks `finished` itself; its after part runs unless a stage raised (other than
        `ModelUnavailable`, which ends the turn with `error` set instead).
        """


Stage = Step | Middleware


@dataclass(frozen=True, slots=True)
class _Segment:
    """The steps up to the next middleware, then that middleware (None for the last segment)."""

    steps: tuple[Step, ...]
    middleware: Middleware | None


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        segments: list[_Segment] = []
        steps: list[Step] = []
        for stage in stages:
            if isinstance(stage, Middleware):
                segments.append(_Segment(tuple(steps), stage))
                steps = []
            else:
                steps.append(stage)
        segments.append(_Segment(tuple(steps), None))
        self._segments = segments
        # Built once: a turn allocates no call_next of its own, and runs consecutive steps in one
        # loop rather than one coroutine frame each.
        self._nexts: list[Next] = [
            functools.partial(self._run_from, index) for index in range(len(segments))
        ]

    async def run(self, ctx: TurnContext) -> TurnContext:
        await self._run_from(0, ctx)
        return ctx

    async def _run_from(self, index: int, ctx: TurnContext) -> None:
        segment = self._segments[index]
        try:
            for step in segment.steps:
                if ctx.finished:
                    return
                await step(ctx)
            if segment.middleware is not None and not ctx.finished:
                await segment.middleware(ctx, self._nexts[index + 1])
        except ModelUnavailable as exc:
            ctx.error = str(exc)
            ctx.failure = exc
            ctx.finished = True
