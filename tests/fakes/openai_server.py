"""A fake OpenAI-compatible chat-completions server on loopback.

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

JSON = dict[str, Any]
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
GARBAGE = b"<html><body><h1>502 Bad Gateway</h1></body></html>"

# What OpenAI puts in `error.type` / `error.code` and says for the statuses tests script.
_ERROR_SHAPES: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
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


Action = Fail | Hang | MalformedChunk | Truncate | GarbageBody | Reply


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received; header names are lower-cased so lookups ignore spelling."""

    path: str
    headers: dict[str, str]
    json: Any


# --------------------------------------------------------------------------- helpers


def error_body(status: int, message: str | None = None) -> bytes:
    """OpenAI's error JSON for ``status``, so clients parse our errors like the real ones."""
    fallback = ("invalid_request_error" if status < 500 else "server_error", None, "Error.")
    err_type, code, default = _ERROR_SHAPES.get(status, fallback)
    return orjson.dumps(
        {"error": {"message": message or default, "type": err_type, "param": None, "code": code}}
    )


def text_of(content: Any) -> str:
    """The text of a message ``content``: a string, or the text parts of a multimodal list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def echo_last_user(body: JSON) -> str:
    """Default reply: echo the last user message, which makes routing visible in assertions."""
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return "echo: " + text_of(msg.get("content"))
    return "echo: "


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


# --------------------------------------------------------------------------- the server


class FakeOpenAI:
    """An OpenAI-compatible server: ``/v1/chat/completions`` (plain and SSE) and ``/v1/models``.

    Scripted actions (``script``) are consumed one per chat-completions request that gets past
    the API-key and body checks, before the normal behaviour resumes. ``fault``, while set, is
    the action every request gets once the script is used up: an outage or a storm of any
    length (timeouts, 429s, 5xx, cut streams, garbage) that ends when the test clears it.

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
        # Seconds added to every response's Date header: a server whose clock is off.
        self.date_offset = 0.0
        self.requests: list[RecordedRequest] = []
        self.fault: Action | None = None
        self._script: deque[Action] = deque()
        self._ids = itertools.count(1)
        self._id_prefix = secrets.token_hex(4)
        self._server = LoopbackServer()
        self._base_url: str | None = None

    # -- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port; see ``base_url``)."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.on_response_prepare.append(self._stamp_date)
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

    # -- handlers

    async def _stamp_date(self, _request: web.Request, response: web.StreamResponse) -> None:
        """aiohttp adds the true Date only when none is set, so this one wins."""
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

    async def _models(self, request: web.Request) -> web.Response:
        if (refused := await self._admit(request, None)) is not None:
            return refused
        data = [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
            for m in self.models
        ]
        return _json_response({"object": "list", "data": data})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            body = None
        if (refused := await self._admit(request, body)) is not None:
            return refused
        if not isinstance(body, dict):
            return _error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body.get("messages"), list):
            return _error(400, "'messages' is a required property")

        action = self._script.popleft() if self._script else self.fault
        if isinstance(action, Hang):
            await asyncio.sleep(action.seconds)
        elif isinstance(action, Fail):
            return _error(action.status, action.message, action.retry_after)
        elif isinstance(action, GarbageBody):
            return web.Response(body=GARBAGE, content_type="text/html")

        answer = action.text if isinstance(action, Reply) else self.reply(body)
        if body.get("stream"):
            return await self._stream(request, body, answer, action)
        if isinstance(action, MalformedChunk):
            return web.Response(body=b"{not json", content_type="application/json")
        completion = self._completion(body, answer)
        if isinstance(action, Truncate):
            return await _truncated(request, orjson.dumps(completion))
        return _json_response(completion)

    # -- answer shapes

    def _content_and_reasoning(self, answer: str) -> tuple[str, str | None]:
        """What goes in ``content`` and in ``reasoning_content`` for this server's style."""
        if self.think_tags:
            return f"<think>{self.reasoning or ''}</think>{answer}", None
        return answer, self.reasoning

    def _usage(self, body: JSON, content: str, reasoning: str | None) -> JSON:
        prompt = sum(
            count_tokens(text_of(m.get("content"))) for m in body["messages"] if isinstance(m, dict)
        )
        completion = count_tokens(content) + (count_tokens(reasoning) if reasoning else 0)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _envelope(self, body: JSON, kind: str) -> JSON:
        """The fields every completion and chunk of one response share."""
        return {
            "id": f"chatcmpl-{self._id_prefix}{next(self._ids):08d}",
            "object": kind,
            "created": int(time.time()),
            "model": body.get("model", ""),
            "system_fingerprint": "fp_fake",
        }

    def _completion(self, body: JSON, answer: str) -> JSON:
        content, reasoning = self._content_and_reasoning(answer)
        message: JSON = {"role": "assistant", "content": content, "refusal": None}
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        return {
            **self._envelope(body, "chat.completion"),
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            ],
            "usage": self._usage(body, content, reasoning),
        }

    def _chunks(self, body: JSON, answer: str) -> list[bytes]:
        """Every SSE event of a streamed answer, in order, ending with ``[DONE]``."""
        content, reasoning = self._content_and_reasoning(answer)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = self._envelope(body, "chat.completion.chunk")
        if include_usage:
            base["usage"] = None

        def chunk(delta: JSON, finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return sse({**base, "choices": [choice]})

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        if reasoning:
            events += [
                chunk({"reasoning_content": part})
                for part in split_text(reasoning, self.chunk_size)
            ]
        # Split "<think>" and "</think>" mid-tag, as real servers do, so parsers must buffer.
        close = content.find("</think>") if self.think_tags else -1
        cuts = (4, close + 4) if self.think_tags else ()
        events += [chunk({"content": part}) for part in split_text(content, self.chunk_size, cuts)]
        events.append(chunk({}, "stop"))
        if include_usage:
            events.append(
                sse({**base, "choices": [], "usage": self._usage(body, content, reasoning)})
            )
        events.append(b"data: [DONE]\n\n")
        return events

    async def _stream(
        self, request: web.Request, body: JSON, answer: str, action: Action | None
    ) -> web.StreamResponse:
        events = self._chunks(body, answer)
        if isinstance(action, MalformedChunk):
            events.insert(action.after_chunks, b"data: {not json\n\n")
        elif isinstance(action, Truncate):
            events = events[: action.after_chunks]
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
    status: int, message: str | None = None, retry_after: float | None = None
) -> web.Response:
    """An OpenAI-shaped error response, with ``Retry-After`` when the caller should wait."""
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    return web.Response(
        status=status,
        body=error_body(status, message),
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
