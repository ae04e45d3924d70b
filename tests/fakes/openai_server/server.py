"""``FakeOpenAI``: the HTTP routes, scripted faults and what tests inspect."""

from __future__ import annotations

import asyncio
import secrets
import time
from email.utils import formatdate
from types import TracebackType
from typing import Any, Self

import orjson
from aiohttp import web

from tests.fakes.openai_answers import (
    AUDIO_FORMATS_MESSAGE,
    Invalid,
    check_request,
    content_part_types,
    embeddings_answer,
    is_audio,
)
from tests.fakes.openai_server.answers import _Answers
from tests.fakes.openai_server.scripting import (
    Action,
    Fail,
    GarbageBody,
    Hang,
    MalformedChunk,
    RecordedRequest,
    Truncate,
)
from tests.fakes.openai_server.wire import GARBAGE, JSON, _error, _json_response, _truncated


class FakeOpenAI(_Answers):
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
