"""OpenAI objects for answers the gateway makes itself (a route's fixed reply, a cached answer,
a command in a remembered conversation), and the streaming of a provider's events as they came.

A model's answer is never reshaped here: its bytes go to the caller as the provider sent them,
unless a policy changed the text (then its JSON, changed in place, is serialised once).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import cached_property
from typing import Any

import orjson

from aibot.channels.http_api.openai_errors import error_event, failure_status
from aibot.channels.identity import random_id
from aibot.core.errors import ModelUnavailable
from aibot.core.messages import StreamDelta
from aibot.core.pipeline import TurnContext
from aibot.core.service import StreamEnd

DONE = b"data: [DONE]\n\n"


def sse(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


class GatewayAnswer:
    """A completion (or its chunks) for text the gateway produced rather than a model."""

    def __init__(self, model: str, now: float) -> None:
        self.created = int(now)
        self.model = model

    @cached_property
    def id(self) -> str:
        """Made when first used: most answers are the provider's, with the provider's id."""
        return f"chatcmpl-{random_id()}"

    def full(self, ctx: TurnContext) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": ctx.model or self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ctx.reply or "", "refusal": None},
                    "logprobs": None,
                    "finish_reason": ctx.finish_reason or "stop",
                }
            ],
            "usage": usage_object(ctx),
        }

    def chunks(self, ctx: TurnContext, include_usage: bool) -> list[bytes]:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return sse({**self._envelope(), "choices": [choice]})

        events = [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": ctx.reply or ""}),
            chunk({}, ctx.finish_reason or "stop"),
        ]
        if include_usage:
            events.append(sse({**self._envelope(), "choices": [], "usage": usage_object(ctx)}))
        return events

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }


def usage_object(ctx: TurnContext) -> dict[str, int]:
    prompt, completion = ctx.usage.prompt_tokens, ctx.usage.completion_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def answer_bytes(ctx: TurnContext, shaper: GatewayAnswer) -> bytes:
    """The body of a non-streamed answer: the provider's bytes, its JSON if a policy changed
    it, or the gateway's own completion."""
    result = ctx.result
    if result is not None and result.wire is not None:
        return result.raw if result.raw is not None else orjson.dumps(result.wire)
    return orjson.dumps(shaper.full(ctx))


async def relay(
    first: StreamDelta,
    events: AsyncIterator[StreamDelta | StreamEnd],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    """The provider's events as they came, then `[DONE]`; a failure after the first event
    ends the stream with OpenAI's error event and `[DONE]`, as OpenAI ends one."""
    item: StreamDelta | StreamEnd = first
    while isinstance(item, StreamDelta):
        chunk = item.chunk or {}
        if include_usage or chunk.get("choices") or not chunk.get("usage"):
            yield sse(chunk) if item.raw is None else b"data: " + item.raw + b"\n\n"
        item = await anext(events)
    ctx = item.ctx
    if ctx is None or ctx.error is not None:
        failure = ctx.failure if ctx is not None else None
        if failure is None:
            failure = ModelUnavailable(ctx.error if ctx is not None else str(item.exc))
        yield error_event(failure_status(failure)[1])
    yield DONE


async def gateway_stream(events: list[bytes]) -> AsyncIterator[bytes]:
    for event in events:
        yield event
    yield DONE
