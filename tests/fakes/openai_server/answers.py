"""Answer shapes: choices, usage, the completion object and its SSE chunks, as OpenAI sends them."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.openai_answers import (
    logprobs_for,
    structured_answer,
    text_of,
    tool_arguments,
    tool_call_to_make,
    usage_of,
)
from tests.fakes.openai_server.scripting import (
    Action,
    CallTools,
    MalformedChunk,
    RecordedRequest,
    Reply,
    StreamError,
    Truncate,
)
from tests.fakes.openai_server.wire import (
    JSON,
    SSE_HEADERS,
    _drop,
    count_tokens,
    echo_last_user,
    split_text,
    sse,
)


@dataclass(slots=True)
class _Choice:
    """One choice of an answer: text (or None with tool calls), reasoning, tool calls."""

    content: str | None
    reasoning: str | None
    tool_calls: list[JSON]
    finish: str


class _Answers:
    """The options and the answer a request gets; ``FakeOpenAI`` adds the HTTP side."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        latency: float = 0.0,
        models: list[str] | None = None,
        reply: Callable[[JSON], str] | None = None,
        reasoning: str | None = None,
        think_tags: bool = False,
        chunk_size: int = 4,
        chunk_delay: float = 0.0,
        record: bool = True,
        strict_fields: bool = False,
        strict_models: bool = False,
        embedding_dimensions: int = 8,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.api_key = api_key
        self.latency = latency
        self.models = models if models is not None else ["fake-model"]
        self.reply = reply or echo_last_user
        self.reasoning = reasoning
        self.think_tags = think_tags
        self.chunk_size = chunk_size
        self.chunk_delay = chunk_delay
        self.record = record
        self.strict_fields = strict_fields
        self.strict_models = strict_models
        self.embedding_dimensions = embedding_dimensions
        # Seconds added to every response's Date header: a server whose clock is off.
        self.date_offset = 0.0
        self.requests: list[RecordedRequest] = []
        self.fault: Action | None = None
        # Speech to text: what every transcription returns, and each one's (filename, bytes).
        self.transcript = "What is the weather in Hangzhou today?"
        self.transcriptions: list[tuple[str, bytes]] = []
        self._script: deque[Action] = deque()
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(4)
        self._server = LoopbackServer()
        self._base_url: str | None = None

    # -- answer shapes

    def _choices(self, body: JSON, action: Action | None) -> list[_Choice]:
        """The ``n`` choices of this answer: text, JSON, or tool calls, as the request asks."""
        answer = action.text if isinstance(action, Reply) else self.reply(body)
        answer = structured_answer(body, answer) or answer
        calls: list[tuple[str, str]] = []
        if isinstance(action, CallTools):
            calls = list(action.calls)
        elif (function := tool_call_to_make(body)) is not None and not isinstance(action, Reply):
            calls = [(function["name"], tool_arguments(function, body))]
        n = body.get("n") or 1
        out = []
        for index in range(n):
            content, reasoning = self._content_and_reasoning(
                answer if index == 0 else f"{answer} #{index + 1}"
            )
            if calls:
                tool_calls = [
                    {
                        "id": f"call_{self._id_prefix}{index}{position}",
                        "type": "function",
                        "function": {"name": name, "arguments": arguments},
                    }
                    for position, (name, arguments) in enumerate(calls)
                ]
                out.append(_Choice(None, reasoning, tool_calls, "tool_calls"))
            else:
                out.append(_Choice(content, reasoning, [], "stop"))
        return out

    def _content_and_reasoning(self, answer: str) -> tuple[str, str | None]:
        """What goes in ``content`` and in ``reasoning_content`` for this server's style."""
        if self.think_tags:
            return f"<think>{self.reasoning or ''}</think>{answer}", None
        return answer, self.reasoning

    def _usage(self, body: JSON, choices: list[_Choice]) -> JSON:
        prompt = sum(
            count_tokens(text_of(m.get("content"))) for m in body["messages"] if isinstance(m, dict)
        )
        reasoning = sum(count_tokens(c.reasoning) for c in choices if c.reasoning)
        completion = reasoning + sum(
            count_tokens(c.content or "")
            + sum(len(t["function"]["arguments"]) // 4 for t in c.tool_calls)
            for c in choices
        )
        return usage_of(prompt, completion, reasoning)

    def _envelope(self, body: JSON, kind: str) -> JSON:
        """The fields every completion and chunk of one response share."""
        return {
            "id": f"chatcmpl-{self._id_prefix}{next(self._ids):08d}",
            "object": kind,
            "created": int(time.time()),
            "model": body.get("model", ""),
            "system_fingerprint": "fp_fake",
        }

    def _logprobs(self, body: JSON, text: str | None) -> JSON | None:
        if not body.get("logprobs") or text is None:
            return None
        return logprobs_for(split_text(text, self.chunk_size), body.get("top_logprobs") or 1)

    def _completion(self, body: JSON, choices: list[_Choice]) -> JSON:
        out = []
        for index, choice in enumerate(choices):
            message: JSON = {"role": "assistant", "content": choice.content, "refusal": None}
            if choice.reasoning is not None:
                message["reasoning_content"] = choice.reasoning
            if choice.tool_calls:
                message["tool_calls"] = choice.tool_calls
            out.append(
                {
                    "index": index,
                    "message": message,
                    "logprobs": self._logprobs(body, choice.content),
                    "finish_reason": choice.finish,
                }
            )
        return {
            **self._envelope(body, "chat.completion"),
            "choices": out,
            "usage": self._usage(body, choices),
        }

    def _chunks(self, body: JSON, choices: list[_Choice]) -> list[bytes]:
        """Every SSE event of a streamed answer, in order, ending with ``[DONE]``."""
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = self._envelope(body, "chat.completion.chunk")
        if include_usage:
            base["usage"] = None

        def chunk(
            index: int, delta: JSON, finish: str | None = None, lp: JSON | None = None
        ) -> bytes:
            choice = {"index": index, "delta": delta, "logprobs": lp, "finish_reason": finish}
            return sse({**base, "choices": [choice]})

        events = []
        for index, choice in enumerate(choices):
            events.append(chunk(index, {"role": "assistant", "content": "", "refusal": None}))
            if choice.reasoning:
                events += [
                    chunk(index, {"reasoning_content": part})
                    for part in split_text(choice.reasoning, self.chunk_size)
                ]
            events += self._content_events(body, index, choice, chunk)
            events += self._tool_call_events(index, choice, chunk)
        events += [chunk(index, {}, choice.finish) for index, choice in enumerate(choices)]
        if include_usage:
            events.append(sse({**base, "choices": [], "usage": self._usage(body, choices)}))
        events.append(b"data: [DONE]\n\n")
        return events

    def _content_events(
        self, body: JSON, index: int, choice: _Choice, chunk: Callable[..., bytes]
    ) -> list[bytes]:
        if choice.content is None:
            return []
        # Split "<think>" and "</think>" mid-tag, as real servers do, so parsers must buffer.
        close = choice.content.find("</think>") if self.think_tags else -1
        cuts = (4, close + 4) if self.think_tags else ()
        return [
            chunk(index, {"content": part}, None, self._logprobs(body, part))
            for part in split_text(choice.content, self.chunk_size, cuts)
        ]

    def _tool_call_events(
        self, index: int, choice: _Choice, chunk: Callable[..., bytes]
    ) -> list[bytes]:
        """OpenAI streams a call as its id and name first, then its arguments in pieces."""
        events = []
        for position, call in enumerate(choice.tool_calls):
            head = {
                "index": position,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            events.append(chunk(index, {"tool_calls": [head]}))
            events += [
                chunk(index, {"tool_calls": [{"index": position, "function": {"arguments": part}}]})
                for part in split_text(call["function"]["arguments"], self.chunk_size)
            ]
        return events

    async def _stream(
        self, request: web.Request, body: JSON, choices: list[_Choice], action: Action | None
    ) -> web.StreamResponse:
        events = self._chunks(body, choices)
        if isinstance(action, MalformedChunk):
            events.insert(action.after_chunks, b"data: {not json\n\n")
        elif isinstance(action, Truncate):
            events = events[: action.after_chunks]
        elif isinstance(action, StreamError):
            error = {"message": action.message, "type": "data_inspection_failed", "param": None,
                     "code": "data_inspection_failed"}  # fmt: skip
            events = [*events[: action.after_chunks], sse({"error": error})]
        resp = web.StreamResponse(headers=SSE_HEADERS)
        await resp.prepare(request)
        if self.chunk_delay:
            for event in events:
                await resp.write(event)
                await asyncio.sleep(self.chunk_delay)
        else:  # one write: the fastest path, and SSE parsers must not rely on packet boundaries
            await resp.write(b"".join(events))
        if isinstance(action, Truncate):
            _drop(request)
        return resp
