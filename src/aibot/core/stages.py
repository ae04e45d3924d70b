"""The core pipeline stages: session, commands, context, model, persistence.

`aibot/gateway/message_path.py` orders them together with the policy stages; no stage knows another.
Only the stages that wait on I/O (the session read, the model call) observe
`aibot_stage_seconds`: timing the others measured the timer more than the work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aibot.config import SessionConfig
from aibot.core.commands import Commands, parse_command
from aibot.core.errors import AccessDenied
from aibot.core.messages import ChatRequest, ChatResult, Message, TurnRecord
from aibot.core.pipeline import ChunkSink, DeltaSink, Middleware, Next, TurnContext
from aibot.core.sessions import CachedTurn, SessionMemory, turn_message
from aibot.core.tokens import estimate_tokens
from aibot.core.tool_support import ToolSupport, tool_records
from aibot.core.wire_text import message_from_wire
from aibot.i18n import translate
from aibot.ops.metrics import Metrics

Clock = Callable[[], float]


class ModelRouter(Protocol):
    async def complete(
        self,
        request: ChatRequest,
        provider_name: str | None = None,
        on_delta: DeltaSink | None = None,
        on_chunk: ChunkSink | None = None,
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
        if not ctx.inbound.remember:
            return  # a stateless API call is a model call, never a chat command
        parsed = parse_command(ctx.inbound.text)
        if parsed is None:
            return
        command = self._commands.find(parsed[0])
        if command is None:
            return
        ctx.is_command = True
        if command.admin and not ctx.is_admin:
            ctx.answer(translate(ctx.language, "/{command} is for admins only.", command=parsed[0]))
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
        given = _caller_messages(inbound.wire)
        if ctx.session is None or any(m.get("role") in ("assistant", "tool") for m in given):
            # Stateless, or a caller that sent its own history: that history wins.
            if inbound.wire is None:
                ctx.messages = [_user(inbound.text, ctx.media_parts)]
            return
        session = ctx.session
        idle = self._config.idle_reset
        if idle is not None and session.turns and ctx.now - session.last_active > idle:
            cutoff = session.last_active
            SessionMemory.reset(session, cutoff)
            ctx.conversation_changes["context_from"] = cutoff
        system = self._system(ctx, given)
        users = [m for m in given if m.get("role") == "user"]
        latest = message_from_wire(users[-1]) if users else _user(inbound.text, ctx.media_parts)
        budget = (
            self._config.max_context_tokens
            - estimate_tokens(inbound.text)
            - sum(estimate_tokens(m.content) for m in system)
        )
        max_turns = self._config.max_turns if ctx.max_turns is None else ctx.max_turns
        history = _recent(session.turns, budget, max_turns, ctx.history_parts)
        ctx.messages = [*system, *history, latest]
        ctx.gateway_history = True

    def _system(self, ctx: TurnContext, given: list[dict[str, Any]]) -> list[Message]:
        """The caller's own system (or developer) messages, else the route's or config's."""
        system = [message_from_wire(m) for m in given if m.get("role") in ("system", "developer")]
        prompt = ctx.system_prompt or self._config.system_prompt
        if not system and prompt:
            system = [Message("system", prompt)]
        return system


def _user(text: str, parts: list[dict[str, Any]]) -> Message:
    """A user message; with pictures, its text and their image parts."""
    if not parts:
        return Message("user", text)
    return Message("user", text, parts=[{"type": "text", "text": text}, *parts])


def _recent(
    turns: list[CachedTurn],
    budget: int,
    max_turns: int,
    parts: dict[str, list[dict[str, Any]]] | None = None,
) -> list[Message]:
    """The latest turns that fit `budget` tokens and `max_turns` exchanges, whole exchanges;
    the history starts at a question, never inside an answer or its tool calls; a user turn
    that came with pictures gets them again (`parts`, by request id)."""
    history: list[Message] = []
    questions = 0
    for turn in reversed(turns):
        if not turn["tokens"]:
            turn["tokens"] = estimate_tokens(turn["content"])
        budget -= turn["tokens"]
        user = turn["role"] == "user"
        if budget < 0 or (user and questions == max_turns):
            break
        images = parts.get(turn["request_id"] or "") if parts and user else None
        history.append(_user(turn["content"], images) if images else turn_message(turn))
        questions += user
    while history and history[-1].role != "user":
        history.pop()  # the oldest kept turn answers a question that did not fit
    history.reverse()
    return history


def _caller_messages(wire: dict[str, Any] | None) -> list[dict[str, Any]]:
    messages = wire.get("messages") if wire is not None else None
    return [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else []


class ModelStage:
    """Asks the model. With tools allowed for this chat (and a provider that takes them), the
    answer comes through the tool loop; the final answer streams as any other."""

    def __init__(
        self, router: ModelRouter, metrics: Metrics, tools: ToolSupport | None = None
    ) -> None:
        self._router = router
        self._timer = metrics.stage_latency.labels("model")
        self._tools = tools

    async def __call__(self, ctx: TurnContext) -> None:
        inbound = ctx.inbound
        provider = ctx.provider_override or (
            (ctx.session.model if ctx.session else None) or inbound.model or ctx.provider_choice
        )
        with self._timer.time():
            if self._tools is not None and _tool_scope(ctx):

                async def complete(step: ChatRequest) -> ChatResult:
                    return await self._router.complete(step, provider, ctx.on_delta)

                ctx.tools = _tool_scope(ctx)
                result = await self._tools.answer(ctx, _request(ctx), provider, complete)
            else:
                result = await self._router.complete(
                    _request(ctx), provider, ctx.on_delta, ctx.on_chunk
                )
                ctx.reply = result.text
                ctx.usage = result.usage
        ctx.result = result
        if result.tool_calls and not result.text:
            ctx.keep_turn = False  # an answer of tool calls only: the caller runs them first
        ctx.reasoning = result.reasoning
        ctx.provider = result.provider
        ctx.model = result.model
        ctx.finish_reason = result.finish_reason


def _tool_scope(ctx: TurnContext) -> tuple[str, ...]:
    """The tools this turn may use: its route's for the gateway's own messages; for an API
    caller's body, its key's scope, only when memory built the messages (`X-Session-Id`)."""
    if ctx.inbound.wire is None:
        return ctx.tools
    return ctx.inbound.tool_scope if ctx.gateway_history else ()


def _request(ctx: TurnContext) -> ChatRequest:
    """The model call: the caller's own body when there is one (its messages, or the gateway's
    history instead when memory built them), else the gateway's messages."""
    wire = ctx.inbound.wire
    if wire is None:
        return ChatRequest(ctx.messages, temperature=ctx.temperature)
    if ctx.gateway_history:
        wire = {key: value for key, value in wire.items() if key != "messages"}
    if ctx.temperature is not None and wire.get("temperature") is None:
        wire = {**wire, "temperature": ctx.temperature}  # a route's, unless the caller chose
    return ChatRequest(ctx.messages, wire=wire)


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
                *tool_records(ctx.tool_turns, asked_at, inbound.request_id),
                TurnRecord(
                    "assistant",
                    ctx.reply,
                    max(self._clock(), asked_at + 1e-6 * (2 + len(ctx.tool_turns))),
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
