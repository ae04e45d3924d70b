"""The OpenAI chat wire format both ways: typed requests out, typed answers and deltas in.

Kept apart from the HTTP client so the shapes (tool calls, content parts, reasoning fields,
usage) are read in one place, and a pass-through keeps the parsed JSON beside the typed view.
"""

from __future__ import annotations

from typing import Any

from aibot.config.presets import ReasoningEcho
from aibot.core.messages import (
    ChatRequest,
    Message,
    StreamDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from aibot.providers.reasoning import ThinkTagSplitter, split_think_tags


class MalformedAnswer(ValueError):
    """The provider's body is not a chat completion (or chunk) we can read."""


def wire_message(message: Message, echo: ReasoningEcho) -> dict[str, Any]:
    wire: dict[str, Any] = {
        "role": message.role,
        "content": message.parts if message.parts is not None else message.content,
    }
    if message.role == "assistant":
        if message.tool_calls:
            wire["tool_calls"] = [wire_tool_call(call) for call in message.tool_calls]
            wire["content"] = message.content or None
        if message.reasoning and echo == "field":
            wire["reasoning_content"] = message.reasoning
        elif message.reasoning and echo == "think_tags":
            wire["content"] = f"<think>{message.reasoning}</think>\n\n{message.content}"
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        wire["name"] = message.name
    return wire


def wire_tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def wire_tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def typed_body(
    request: ChatRequest, *, model: str, echo: ReasoningEcho, defaults: dict[str, Any]
) -> dict[str, Any]:
    """The body of a gateway-built request; `defaults` are the provider's configured ones."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [wire_message(m, echo) for m in request.messages],
    }
    if request.max_tokens or defaults.get("max_tokens"):
        body["max_tokens"] = request.max_tokens or defaults["max_tokens"]
    temperature = request.temperature
    if temperature is None:
        temperature = defaults.get("temperature")
    if temperature is not None:
        body["temperature"] = temperature
    if request.tools:
        body["tools"] = [wire_tool(t) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = request.tool_choice
    body.update(defaults.get("extra_body") or {})
    body.update(request.extra)
    return body


def read_usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    return Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0))


def read_tool_calls(raw: Any) -> tuple[ToolCall, ...]:
    if not isinstance(raw, list):
        return ()
    calls = []
    for item in raw:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict):
            continue
        calls.append(
            ToolCall(
                str(item.get("id") or ""),
                str(function.get("name") or ""),
                str(function.get("arguments") or ""),
            )
        )
    return tuple(calls)


def read_completion(data: Any) -> tuple[dict[str, Any], str, str | None, tuple[ToolCall, ...]]:
    """The first choice of a completion: (choice, answer, reasoning, tool calls)."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise MalformedAnswer("malformed response body") from None
    answer, inline = split_think_tags(message.get("content") or "")
    reasoning = (message.get("reasoning_content") or message.get("reasoning") or "") + inline
    return choice, answer, reasoning or None, read_tool_calls(message.get("tool_calls"))


def read_chunk(chunk: Any, splitter: ThinkTagSplitter) -> StreamDelta:
    """One streamed event's first choice as a delta (other choices stay in the chunk)."""
    if not isinstance(chunk, dict):
        raise MalformedAnswer("malformed stream chunk")
    result = StreamDelta()
    if chunk.get("usage"):
        result.usage = read_usage(chunk["usage"])
    choices = chunk.get("choices") or []
    if choices and isinstance(choices[0], dict):
        choice = choices[0]
        delta = choice.get("delta") or {}
        text, inline = splitter.feed(delta.get("content") or "")
        result.text = text
        result.reasoning = (delta.get("reasoning_content") or delta.get("reasoning") or "") + inline
        result.finish_reason = choice.get("finish_reason")
        result.tool_calls = _tool_call_deltas(delta.get("tool_calls"))
    return result


def _tool_call_deltas(raw: Any) -> list[ToolCallDelta]:
    if not isinstance(raw, list):
        return []
    out = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        function = item.get("function") or {}
        index = item.get("index")
        out.append(
            ToolCallDelta(
                index if isinstance(index, int) else position,
                item.get("id"),
                function.get("name"),
                function.get("arguments") or "",
            )
        )
    return out


class ToolCallAssembler:
    """Joins streamed tool-call pieces into whole calls, in index order."""

    __slots__ = ("_calls",)

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}

    def add(self, piece: ToolCallDelta) -> None:
        call = self._calls.setdefault(piece.index, ["", "", ""])
        if piece.id:
            call[0] = piece.id
        if piece.name:
            call[1] = call[1] or piece.name
        call[2] += piece.arguments

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(ToolCall(*self._calls[i]) for i in sorted(self._calls))
