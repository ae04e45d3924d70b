"""The model stage's tool part: which tools a turn gets, the loop that runs them, and how the
calls and results become turns.

A turn gets tools only when its route allows some (`ctx.tools`), the provider's preset takes
tools, and the toolbox can offer at least one of them now; otherwise it is an ordinary call.
"""

from __future__ import annotations

from collections.abc import Callable

from aibot.core.messages import ChatRequest, ChatResult, Message, TurnRecord
from aibot.core.pipeline import TurnContext
from aibot.core.tool_loop import Complete, ToolLoop
from aibot.core.tools import ToolCaller

SupportsTools = Callable[[str | None], bool]  # the provider (None: the default) takes tools


class ToolSupport:
    def __init__(self, loop: ToolLoop, supports: SupportsTools, time_zone: str) -> None:
        self.loop = loop
        self._supports = supports
        self._time_zone = time_zone

    def caller(self, ctx: TurnContext) -> ToolCaller:
        inbound = ctx.inbound
        return ToolCaller(
            user_id=inbound.user_id,
            channel=inbound.channel,
            chat_id=inbound.chat_id,
            session_key=inbound.session_key,
            time_zone=ctx.time_zone or self._time_zone,
            request_id=inbound.request_id,
            language=ctx.language,
            # Only a platform message (one from the inbox) can be asked a question mid-turn.
            target=inbound.target if inbound.inbox_id is not None else None,
        )

    async def answer(
        self, ctx: TurnContext, request: ChatRequest, provider: str | None, complete: Complete
    ) -> ChatResult:
        """The model's answer, through the loop when tools apply; fills reply, usage and the
        tool turns of `ctx`."""
        tools = await self.loop.toolbox.offered(ctx.tools) if self._supports(provider) else []
        if not tools:
            result = await complete(request)
            ctx.reply, ctx.usage = result.text, result.usage
            return result
        done = await self.loop.run(request, tools, self.caller(ctx), complete, ctx.on_status)
        ctx.reply, ctx.usage, ctx.tool_turns = done.result.text, done.usage, done.transcript
        return done.result


def tool_records(turns: list[Message], asked_at: float, request_id: str) -> list[TurnRecord]:
    """The loop's assistant calls and tool results as turns, just after the question."""
    return [
        TurnRecord(
            m.role,
            m.content,
            asked_at + 1e-6 * (i + 1),
            reasoning=m.reasoning,
            request_id=request_id,
            tool_calls=m.tool_calls,
            tool_call_id=m.tool_call_id,
            name=m.name,
        )
        for i, m in enumerate(turns)
    ]
