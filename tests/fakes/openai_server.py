"""A fake OpenAI-compatible server on loopback: chat completions, models, embeddings.

Why a fake and not mocks: the gateway's provider client must be tested over real sockets
against the real wire format (SSE framing, error bodies, ``Retry-After``, dropped connections),
and the benchmark needs an upstream that answers instantly so it measures the gateway alone.
The official ``openai`` SDK is the oracle that keeps this fake honest
(``tests/unit/test_fake_openai.py``).

Use it in tests::

    async with FakeOpenAI(api_key="k", reasoning="hmm") as fake:
        fake.script(Fail(status=429, retry_after=1.5), Hang(2.0))
        ...  # point the code under test at fake.base_url
        assert fake.requests[-1].json["model"] == "m"

or standalone (the benchmark does this)::

    python -m tests.fakes.openai_server --port 0 --latency-ms 0 [--api-key K]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import secrets
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from types import TracebackType
from typing import Any, Self

import orjson
from aiohttp import web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.openai_answers import (
    AUDIO_FORMATS_MESSAGE,
    Invalid,
    check_request,
    content_part_types,
    embeddings_answer,
    is_audio,
    last_user_text,
    logprobs_for,
    structured_answer,
    text_of,
    tool_arguments,
    tool_call_to_make,
    usage_of,
)

JSON = dict[str, Any]
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
GARBAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"

__all__ = ["FakeOpenAI", "text_of"]

# What OpenAI puts in `error.type` / `error.code` and says for the statuses tests script.
_ERROR_SHAPES: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    422: ("invalid_request_error", None, "Unprocessable request."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


# --------------------------------------------------------------------------- scripted actions


@dataclass(frozen=True, slots=True)
class Fail:
    """Answer with an OpenAI-shaped error; ``retry_after`` (seconds) sets ``Retry-After``."""

    status: int = 500
    retry_after: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Hang:
    """Sleep ``seconds`` before answering normally, so callers can exercise their timeouts."""

    seconds: float


@dataclass(frozen=True, slots=True)
class MalformedChunk:
    """Stream: after ``after_chunks`` chunks send ``data: {not json`` and carry on normally.

    Non-stream: a 200 whose body is that same broken JSON.
    """

    after_chunks: int = 2


@dataclass(frozen=True, slots=True)
class Truncate:
    """Drop the connection after ``after_chunks`` chunks, with no finish chunk and no [DONE].

    Non-stream: headers promise the full body, half of it is sent, then the connection drops.
    """

    after_chunks: int = 2


@dataclass(frozen=True, slots=True)
class GarbageBody:
    """A 200 whose body is an HTML error page, as a misbehaving proxy returns."""


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer ``text`` for this one request instead of what ``reply`` would say."""

    text: str


@dataclass(frozen=True, slots=True)
class CallTools:
    """Answer with these tool calls, ``(name, arguments JSON)`` each, whatever the request."""

    calls: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class StreamError:
    """Stream: after ``after_chunks`` events send an ``{"error": …}`` event and end the stream,
    as DashScope does when its output inspection fires mid-answer."""

    after_chunks: int = 2
    message: str = "Output data may contain inappropriate content."


Action = Fail | Hang | MalformedChunk | Truncate | GarbageBody | Reply | CallTools | StreamError


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received; header names are lower-cased so lookups ignore spelling."""

    path: str
    headers: dict[str, str]
    json: Any


# --------------------------------------------------------------------------- helpers


def error_body(
    status: int, message: str | None = None, param: str | None = None, code: str | None = None
) -> bytes:
    """OpenAI's error JSON for ``status``, so clients parse our errors like the real ones."""
    fallback = ("invalid_request_error" if status < 500 else "server_error", None, "Error.")
    err_type, default_code, default = _ERROR_SHAPES.get(status, fallback)
    return orjson.dumps(
        {
            "error": {
                "message": message or default,
                "type": err_type,
                "param": param,
                "code": code or default_code,
            }
        }
    )


def echo_last_user(body: JSON) -> str:
    """Default reply: echo the last user message, which makes routing visible in assertions."""
    return "echo: " + last_user_text(body)


def count_tokens(text: str) -> int:
    """A rough token count (~4 characters a token); usage only has to be plausible and stable."""
    return len(text) // 4 + 1


def split_text(text: str, size: int, forced_cuts: tuple[int, ...] = ()) -> list[str]:
    """Cut ``text`` every ``size`` characters and at ``forced_cuts`` (to split tags on purpose)."""
    cuts = sorted({*range(0, len(text), size), *(c for c in forced_cuts if 0 < c < len(text))})
    return [text[a:b] for a, b in itertools.pairwise([*cuts, len(text)])]


def sse(obj: JSON) -> bytes:
    """One server-sent event line carrying ``obj``."""
    return b"data: " + orjson.dumps(obj) + b"\n\n"


@dataclass(slots=True)
class _Choice:
    """One choice of an answer: text (or None with tool calls), reasoning, tool calls."""

    content: str | None
    reasoning: str | None
    tool_calls: list[JSON]
    finish: str


# --------------------------------------------------------------------------- the server


class FakeOpenAI:
    """An OpenAI-compatible server: ``/v1/chat/completions`` (plain and SSE), ``/v1/models``
    (and ``/v1/models/{id}``) and ``/v1/embeddings``.

    Scripted actions (``script``) are consumed one per chat-completions request that gets past
    the API-key and body checks, before the normal behaviour resumes. ``fault``, while set, is
    the action every request gets once the script is used up: an outage or a storm of any
    length (timeouts, 429s, 5xx, cut streams, garbage) that ends when the test clears it.

    Answers follow the request as OpenAI's do: ``tools`` get a call of the first (or the named)
    function with arguments from its schema until a tool result comes back, ``response_format``
    gets JSON (an instance of the schema), ``n`` gets that many choices, ``logprobs`` gets
    per-token log probabilities, and requests OpenAI refuses are refused the same way (a tool
    message that answers no call, ``stream_options`` without ``stream``, with
    ``strict_fields`` a field OpenAI does not define, with ``strict_models`` a model not in
    ``models``).

    Options: ``api_key`` (None accepts any caller), ``latency`` seconds before every answer,
    ``models`` listed by ``/v1/models``, ``reply(request_json) -> text`` (default: echo the last
    user message), ``reasoning`` text sent as ``reasoning_content`` (or, with ``think_tags``,
    inside ``content`` as ``<think>…</think>`` the way MiniMax-M2 and Qwen3 do), ``chunk_size``
    characters per streamed delta, ``chunk_delay`` seconds between SSE events (0 sends them in
    one write), ``record`` (False stops ``requests`` from growing in long runs).
    """

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

    # -- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port; see ``base_url``)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)  # images in base64
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{model:.+}", self._model)
        app.on_response_prepare.append(self._stamp_headers)
        self._base_url = await self._server.start(app, host, port) + "/v1"

    async def stop(self) -> None:
        """Close the listener and any open connections."""
        await self._server.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``, what an OpenAI client takes as its base URL."""
        if self._base_url is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._base_url

    # -- test controls

    def script(self, *actions: Action) -> None:
        """Queue ``actions``, one per coming chat-completions request, in order."""
        self._script.extend(actions)

    def reset(self) -> None:
        """Forget recorded requests, any unconsumed script and the standing fault."""
        self.requests.clear()
        self._script.clear()
        self.fault = None

    def chat_requests(self) -> list[JSON]:
        """The bodies of the chat-completions requests received, in order."""
        return [r.json for r in self.requests if r.path.endswith("/chat/completions")]

    def content_parts(self, request: int = -1) -> list[list[str]]:
        """What each message of a chat request carried: its content part types in order
        (``["text"]`` for a plain string), so tests see which pictures reached the model."""
        body = self.chat_requests()[request]
        return [content_part_types(m.get("content")) for m in body["messages"]]

    # -- handlers

    async def _stamp_headers(self, _request: web.Request, response: web.StreamResponse) -> None:
        """An ``x-request-id`` as OpenAI sends; aiohttp adds the true Date only when none is
        set, so a shifted one wins."""
        response.headers.setdefault("x-request-id", f"req_{secrets.token_hex(12)}")
        if self.date_offset:
            response.headers["Date"] = formatdate(time.time() + self.date_offset, usegmt=True)

    async def _admit(self, request: web.Request, body: Any) -> web.Response | None:
        """Record the request, wait the configured latency, and refuse a wrong API key."""
        if self.record:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.requests.append(RecordedRequest(request.path, headers, body))
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.api_key is None or request.headers.get("Authorization") == f"Bearer {self.api_key}":
            return None
        return _error(401)

    def _model_object(self, name: str) -> JSON:
        return {"id": name, "object": "model", "created": 1700000000, "owned_by": "fake"}

    async def _models(self, request: web.Request) -> web.Response:
        if (refused := await self._admit(request, None)) is not None:
            return refused
        data = [self._model_object(m) for m in self.models]
        return _json_response({"object": "list", "data": data})

    async def _model(self, request: web.Request) -> web.Response:
        if (refused := await self._admit(request, None)) is not None:
            return refused
        name = request.match_info["model"]
        if name not in self.models:
            return _error(404, f"The model '{name}' does not exist", "model", "model_not_found")
        return _json_response(self._model_object(name))

    async def _read_json(self, request: web.Request) -> tuple[Any, web.Response | None]:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
        if (refused := await self._admit(request, body)) is not None:
            return body, refused
        if not isinstance(body, dict):
            return body, _error(400, "We could not parse the JSON body of your request.")
        return body, None

    async def _transcribe(self, request: web.Request) -> web.Response:
        """``POST /v1/audio/transcriptions``: multipart ``file`` and ``model``; answers
        ``{"text": transcript}`` for audio it recognises by its first bytes, else OpenAI's 400."""
        if (refused := await self._admit(request, None)) is not None:
            return refused
        form = await request.post()
        upload, model = form.get("file"), form.get("model")
        if not isinstance(upload, web.FileField) or not isinstance(model, str):
            return _error(400, "you must provide a file and a model", "file")
        data = upload.file.read()
        self.transcriptions.append((upload.filename, data))
        if not is_audio(data):
            return _error(400, AUDIO_FORMATS_MESSAGE, "file", "invalid_value")
        return _json_response({"text": self.transcript})

    async def _embeddings(self, request: web.Request) -> web.Response:
        body, refused = await self._read_json(request)
        if refused is not None:
            return refused
        try:
            return _json_response(embeddings_answer(body, self.embedding_dimensions))
        except Invalid as exc:
            return _error(400, exc.message, exc.param, exc.code)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body, refused = await self._read_json(request)
        if refused is not None:
            return refused
        if not isinstance(body.get("messages"), list):
            return _error(400, "'messages' is a required property", "messages")
        try:
            check_request(body, self.strict_fields)
        except Invalid as exc:
            return _error(400, exc.message, exc.param, exc.code)
        if self.strict_models and body.get("model") not in self.models:
            name = body.get("model")
            return _error(
                404, f"The model '{name}' does not exist or you do not have access to it.",
                "model", "model_not_found",
            )  # fmt: skip

        action = self._script.popleft() if self._script else self.fault
        if isinstance(action, Hang):
            await asyncio.sleep(action.seconds)
        elif isinstance(action, Fail):
            return _error(action.status, action.message, retry_after=action.retry_after)
        elif isinstance(action, GarbageBody):
            return web.Response(body=GARBAGE, content_type="text/html")

        choices = self._choices(body, action)
        if body.get("stream"):
            return await self._stream(request, body, choices, action)
        if isinstance(action, MalformedChunk):
            return web.Response(body=b"{not json", content_type="application/json")
        completion = self._completion(body, choices)
        if isinstance(action, Truncate):
            return await _truncated(request, orjson.dumps(completion))
        return _json_response(completion)

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


def _json_response(obj: JSON) -> web.Response:
    return web.Response(body=orjson.dumps(obj), content_type="application/json")


def _error(
    status: int,
    message: str | None = None,
    param: str | None = None,
    code: str | None = None,
    *,
    retry_after: float | None = None,
) -> web.Response:
    """An OpenAI-shaped error response, with ``Retry-After`` when the caller should wait (and
    OpenAI's rate-limit headers on a 429)."""
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    if status == 429:
        headers |= {"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "0"}
    return web.Response(
        status=status,
        body=error_body(status, message, param, code),
        content_type="application/json",
        headers=headers,
    )


async def _truncated(request: web.Request, payload: bytes) -> web.StreamResponse:
    """Promise ``payload`` in Content-Length, send half of it, then drop the connection."""
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.content_length = len(payload)
    await resp.prepare(request)
    await resp.write(payload[: len(payload) // 2])
    _drop(request)
    return resp


def _drop(request: web.Request) -> None:
    """Close the socket after the bytes already written; aiohttp then skips the response end."""
    if request.transport is not None:
        request.transport.close()


# --------------------------------------------------------------------------- standalone


async def _serve(host: str, port: int, latency: float, api_key: str | None) -> None:
    """Run until SIGTERM/SIGINT, announcing the base URL on stdout for whoever started us."""
    fake = FakeOpenAI(api_key=api_key, latency=latency, record=False)
    await fake.start(host, port)
    print(f"ready {fake.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: ``python -m tests.fakes.openai_server --port 0``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    args = parser.parse_args(argv)
    coro = _serve(args.host, args.port, args.latency_ms / 1000, args.api_key)
    try:  # uvloop is an optional speed-up for the benchmark; the fake runs without it too
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


if __name__ == "__main__":
    main()
