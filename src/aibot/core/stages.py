"""The core pipeline stages: session, commands, context, model, persistence.

`aibot/gateway/message_path.py` orders them together with the policy stages; no stage knows another.
Only the stages that wait on I/O (the session read, the model call) observe
`aibot_stage_seconds`: timing the others measured the timer more than the work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aibot.config import SessionConfig
from aibot.core.commands import Commands, parse_command
from aibot.core.errors import AccessDenied
from aibot.core.messages import ChatRequest, ChatResult, Message, TurnRecord
from aibot.core.pipeline import DeltaSink, Middleware, Next, TurnContext
from aibot.core.sessions import SessionMemory
from aibot.core.tokens import estimate_tokens
from aibot.ops.metrics import Metrics

Clock = Callable[[], float]


class ModelRouter(Protocol):
    async def complete(
        self,
        request: ChatRequest,
        provider_name: str | None = None,
        on_delta: DeltaSink | None = None,
    ) -> ChatResult: ...


async def access_stage(ctx: TurnContext) -> None:
    """Only messages a receiver authenticated reach the model (API key, platform signature…)."""
    if ctx.inbound.principal is None:
        raise AccessDenied("message without an authenticated principal")


class SessionStage:
    def __init__(self, memory: SessionMemory, metrics: Metrics) -> None:
        self._memory = memory
        self._timer = metrics.stage_latency.labels("session")

    async def __call__(self, ctx: TurnContext) -> None:
        if ctx.inbound.remember:
            with self._timer.time():
                ctx.session = await self._memory.get(ctx.inbound.session_key)


class CommandStage:
    def __init__(self, commands: Commands) -> None:
        self._commands = commands

    async def __call__(self, ctx: TurnContext) -> None:
        parsed = parse_command(ctx.inbound.text)
        if parsed is None:
            return
        command = self._commands.find(parsed[0])
        if command is None:
            return
        ctx.is_command = True
        if command.admin and not ctx.is_admin:
            ctx.answer(f"/{parsed[0]} is for admins only. 仅管理员可用。")
            return
        ctx.answer(await command.handler(ctx, parsed[1]))


class ContextStage:
    """Builds the model's messages: system prompt, the recent turns that fit, the new message.

    The turns are bounded by tokens and by exchanges: the route's `max_turns`, else
    `session.max_turns` (0: no history), whatever the memory happens to hold.
    """

    def __init__(self, config: SessionConfig) -> None:
        self._config = config

    async def __call__(self, ctx: TurnContext) -> None:
        inbound = ctx.inbound
        if ctx.session is None:
            ctx.messages = list(inbound.messages or [Message("user", inbound.text)])
            return
        session = ctx.session
        idle = self._config.idle_reset
        if idle is not None and session.turns and ctx.now - session.last_active > idle:
            cutoff = session.last_active
            SessionMemory.reset(session, cutoff)
            ctx.conversation_changes["context_from"] = cutoff
        system = [m for m in inbound.messages or [] if m.role == "system"]
        prompt = ctx.system_prompt or self._config.system_prompt
        if not system and prompt:
            system = [Message("system", prompt)]
        latest = Message("user", inbound.text)
        budget = (
            self._config.max_context_tokens
            - estimate_tokens(inbound.text)
            - sum(estimate_tokens(m.content) for m in system)
        )
        history: list[Message] = []
        for turn in reversed(session.turns):
            if not turn.tokens:
                turn.tokens = estimate_tokens(turn.content)
            budget -= turn.tokens
            if budget < 0:
                break
            history.append(turn.as_message())
        history.reverse()
        max_turns = self._config.max_turns if ctx.max_turns is None else ctx.max_turns
        history = history[-2 * max_turns :] if max_turns else []
        if history and history[0].role == "assistant":
            history.pop(0)  # never start the history in the middle of an exchange
        ctx.messages = [*system, *history, latest]


class ModelStage:
    def __init__(self, router: ModelRouter, metrics: Metrics) -> None:
        self._router = router
        self._timer = metrics.stage_latency.labels("model")

    async def __call__(self, ctx: TurnContext) -> None:
        inbound = ctx.inbound
        temperature = inbound.temperature if inbound.temperature is not None else ctx.temperature
        request = ChatRequest(ctx.messages, max_tokens=inbound.max_tokens, temperature=temperature)
        provider = (
            (ctx.session.model if ctx.session else None) or inbound.model or ctx.provider_choice
        )
        with self._timer.time():
            result = await self._router.complete(request, provider, ctx.on_delta)
        ctx.reply = result.text
        ctx.reasoning = result.reasoning
        ctx.provider = result.provider
        ctx.model = result.model
        ctx.usage = result.usage
        ctx.finish_reason = result.finish_reason


class PersistStage(Middleware):
    """After the stages it wraps, whatever they did: queues the turn's writes; the caller
    commits them together with its own (inbox, outbox). A refusal (`keep_turn` False), a
    command and a failed model call leave no turns behind."""

    def __init__(self, memory: SessionMemory, clock: Clock) -> None:
        self._memory = memory
        self._clock = clock

    async def __call__(self, ctx: TurnContext, call_next: Next) -> None:
        await call_next(ctx)
        self._persist(ctx)

    def _persist(self, ctx: TurnContext) -> None:
        session, inbound = ctx.session, ctx.inbound
        if session is None or ctx.error is not None:
            return
        records: list[TurnRecord] = []
        if ctx.reply is not None and not ctx.is_command and ctx.keep_turn:
            asked_at = max(ctx.now, session.context_from + 1e-6)
            records = [
                TurnRecord("user", inbound.text, asked_at, request_id=inbound.request_id),
                TurnRecord(
                    "assistant",
                    ctx.reply,
                    max(self._clock(), asked_at + 1e-6),
                    reasoning=ctx.reasoning,
                    provider=ctx.provider,
                    model=ctx.model,
                    prompt_tokens=ctx.usage.prompt_tokens,
                    completion_tokens=ctx.usage.completion_tokens,
                    request_id=inbound.request_id,
                    route=ctx.route,
                ),
            ]
        if not records and not ctx.conversation_changes:
            return
        store = self._memory.store
        ctx.writes.append(
            store.save_conversation(
                session.key, inbound.channel, inbound.user_id, ctx.now, **ctx.conversation_changes
            )
        )
        session.stamp = ctx.now  # the row's updated_at once this commits
        if records:
            self._memory.remember(session, records)
            ctx.writes.extend(store.add_turns(session.key, records))
