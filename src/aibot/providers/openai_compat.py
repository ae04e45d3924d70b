"""A lean client for the OpenAI chat-completions wire format on one pooled aiohttp session.

Measured on the target box the official SDK costs ~2.5 ms CPU per call; this path speaks the
wire format directly (orjson, incremental SSE parsing) so the gateway's per-message cost stays
well under a millisecond. The SDK is used in the tests as the independent oracle.

Two kinds of request go through it: the gateway's own (typed messages, tools and tool calls,
built by `wire.typed_body`) and an API caller's pass-through (`ChatRequest.wire`, adapted to
the vendor by `passthrough.adapt_body`), whose answer keeps the provider's bytes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any

import orjson

from aibot.config import ProviderConfig
from aibot.config.presets import GENERIC, PRESETS, Accepts, ReasoningEcho
from aibot.i18n import N_, Phrase
from aibot.ops.proxy import proxy_for
from aibot.providers.base import ChatRequest, ChatResult, ProviderError, StreamDelta
from aibot.providers.passthrough import adapt_body, unsupported
from aibot.providers.reasoning import ThinkTagSplitter
from aibot.providers.wire import (
    MalformedAnswer,
    read_chunk,
    read_completion,
    read_usage,
    typed_body,
    wire_message,
)

if TYPE_CHECKING:
    from aibot.providers.aiohttp_transport import AiohttpAnswer, AiohttpTransport
    from aibot.providers.lean_http import Answer, LeanPool

_RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


def parse_retry_after(headers: Any, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - (now if now is not None else time.time()))


def error_detail(body: bytes, status: int) -> dict[str, Any]:
    """The vendor's error as OpenAI's shape: vendors say it as `{"error": {…}}` (OpenAI, Zhipu,
    Kimi, DashScope) or `{"code", "message"}` (SiliconFlow); `code` becomes a string."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    error = data.get("error", data) if isinstance(data, dict) else None
    if not isinstance(error, dict):
        text = body[:300].decode("utf-8", "replace").strip()
        error = {"message": str(error)[:300] if error else text or f"HTTP {status}"}
    code = error.get("code")
    return {
        "message": str(error.get("message") or error.get("msg") or f"HTTP {status}")[:1000],
        "type": str(
            error.get("type") or ("server_error" if status >= 500 else "invalid_request_error")
        ),
        "param": error.get("param") if isinstance(error.get("param"), str) else None,
        "code": None if code is None else str(code),
    }


class OpenAICompatibleProvider:
    """One configured provider (a name in `models.providers`)."""

    def __init__(self, name: str, config: ProviderConfig) -> None:
        preset = PRESETS.get(config.preset) if config.preset else None
        if config.preset and preset is None:
            known = ", ".join(PRESETS)
            raise ValueError(
                Phrase(
                    N_(
                        "models.providers.{name}.preset: unknown preset '{preset}' (known: {known})"
                    ),
                    {"name": name, "preset": config.preset, "known": known},
                )
            )
        base_url = config.base_url or (preset.base_url if preset else None)
        if not base_url:
            raise ValueError(
                Phrase(N_("models.providers.{name}: set `preset` or `base_url`"), {"name": name})
            )
        self.name = name
        self.model: str = config.model or (preset.model if preset else "default")
        self.base_url = base_url.rstrip("/")
        self.needs_key = preset.needs_key if preset else False
        self.env_key = preset.env_key if preset else None
        self.reasoning_echo: ReasoningEcho = config.reasoning_echo or (
            preset.reasoning_echo if preset else "none"
        )
        self.accepts: Accepts = _accepts(preset.accepts if preset else GENERIC, config)
        # Whether the gateway's own tools are offered to it (`/v1` callers' tools are theirs).
        self.takes_tools = self.accepts.tools if config.tools is None else config.tools
        self.embedding_model = config.embedding_model or (
            preset.embedding_model if preset else None
        )
        self.owner = preset.name if preset else "ai-bot"
        self.max_retries = config.max_retries
        self._config = config
        self._defaults = {
            "max_tokens": config.max_tokens,
            "temperature": config.temperature,
            "extra_body": config.extra_body,
        }
        self._api_key = config.api_key.get_secret_value() if config.api_key else ""
        self._transport: LeanPool | AiohttpTransport | None = None
        # The last response's Date header: `ai-bot doctor` compares it with the local clock.
        self.server_date: str | None = None
        self._proxy = proxy_for(self.base_url)
        self._timeout = config.timeout
        self._headers = {"Content-Type": "application/json", **config.extra_headers}
        if self._api_key:
            self._headers["Authorization"] = f"Bearer {self._api_key}"

    @property
    def vendor(self) -> str:
        """How people know the vendor ("DeepSeek"); a provider without a preset by its name."""
        preset = PRESETS.get(self._config.preset or "")
        return preset.title if preset else self.name

    @property
    def has_key(self) -> bool:
        return bool(self._api_key)

    def _client(self) -> LeanPool | AiohttpTransport:
        """The pooled connections, made at the first call: the lean pool (`lean_http`) for a
        plain http(s) base URL, aiohttp for one behind a proxy or with credentials or a query
        in it. Either is imported then, so a gateway that has not called its model yet has not
        paid for it (aiohttp is ~20 MB with its TLS contexts)."""
        if self._transport is not None and not self._transport.closed:
            return self._transport
        config = self._config
        parts = urllib.parse.urlsplit(self.base_url)
        if self._proxy or parts.username or parts.query or parts.fragment:
            from aibot.providers.aiohttp_transport import AiohttpTransport

            self._transport = AiohttpTransport(
                self.base_url,
                self._headers,
                limit=config.max_connections,
                timeout=config.timeout,
                connect_timeout=config.connect_timeout,
                proxy=self._proxy,
            )
        else:
            from aibot.providers.lean_http import LeanPool

            self._transport = LeanPool(
                self.base_url,
                self._headers,
                limit=config.max_connections,
                connect_timeout=config.connect_timeout,
            )
        return self._transport

    async def close(self) -> None:
        if self._transport is not None and not self._transport.closed:
            await self._transport.close()

    def _body(self, request: ChatRequest, *, stream: bool) -> bytes:
        model = request.model or self.model
        if request.wire is not None:
            wire = request.wire
            if "messages" not in wire:  # the gateway's memory supplies the conversation
                messages = [wire_message(m, self.reasoning_echo) for m in request.messages]
                wire = {**wire, "messages": messages}
            body = adapt_body(
                wire, model=model, accepts=self.accepts, provider=self.name, stream=stream
            )
            return orjson.dumps(body)
        body = typed_body(request, model=model, echo=self.reasoning_echo, defaults=self._defaults)
        if stream:
            body["stream"] = True
            if self.accepts.stream_options:
                body["stream_options"] = {"include_usage": True}
        return orjson.dumps(body)

    def _fail(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool,
        retry_after: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> ProviderError:
        return ProviderError(
            f"{self.name}: {message}",
            provider=self.name,
            status=status,
            retryable=retryable,
            retry_after=retry_after,
            detail=detail,
        )

    async def _check_status(self, answer: Answer | AiohttpAnswer) -> None:
        self.server_date = answer.headers.get("Date")
        if answer.status == 200:
            return
        detail = error_detail(await answer.read(), answer.status)
        hint = " (check the API key)" if answer.status in (401, 403) else ""
        if 300 <= answer.status < 400 and answer.headers.get("Location"):
            # Not followed (a POST's body would have to go again): the operator sets the URL.
            hint = f" (redirected to {answer.headers.get('Location')}: set base_url to it)"
        raise self._fail(
            f"HTTP {answer.status}: {detail['message'][:300]}{hint}",
            status=answer.status,
            retryable=answer.status in _RETRYABLE_STATUS,
            retry_after=parse_retry_after(answer.headers),
            detail=detail,
        )

    def _send(
        self, method: str, path: str, body: bytes | None, *, stream: bool, seconds: float
    ) -> Awaitable[Answer | AiohttpAnswer]:
        """The call, its answer's headers (and its body unless `stream`) due in `seconds`."""
        deadline = asyncio.get_running_loop().time() + seconds
        return self._client().send(method, path, body, deadline=deadline, stream=stream)

    async def _post(self, path: str, body: bytes) -> bytes:
        from aibot.providers.lean_http import LeanHttpError

        try:
            answer = await self._send("POST", path, body, stream=False, seconds=self._timeout)
            try:
                await self._check_status(answer)
                return await answer.read()
            finally:
                answer.release()
        except TimeoutError:
            raise self._fail("request timed out", retryable=True) from None
        except LeanHttpError as exc:
            raise self._fail(f"connection failed: {exc}", retryable=True) from None

    async def probe(self) -> None:
        """`GET /models`, which costs no tokens: returns when the vendor answers and does not
        refuse the key (a server without that path answers 404, which is enough), raises the
        `ProviderError` of a refused key, an unpaid account, a 5xx or no connection."""
        from aibot.providers.lean_http import LeanHttpError

        try:
            answer = await self._send("GET", "/models", None, stream=False, seconds=10)
            try:
                if answer.status in (401, 402, 403) or answer.status >= 500:
                    await self._check_status(answer)
            finally:
                answer.release()
        except TimeoutError:
            raise self._fail("request timed out", retryable=True) from None
        except LeanHttpError as exc:
            raise self._fail(f"connection failed: {exc}", retryable=True) from None

    async def chat(self, request: ChatRequest) -> ChatResult:
        raw = await self._post("/chat/completions", self._body(request, stream=False))
        try:
            data = orjson.loads(raw)
            choice, answer, reasoning, calls = read_completion(data)
        except (orjson.JSONDecodeError, MalformedAnswer):
            raise self._fail("malformed response body", status=200, retryable=True) from None
        passthrough = request.wire is not None
        return ChatResult(
            text=answer,
            reasoning=reasoning,
            usage=read_usage(data.get("usage")),
            provider=self.name,
            model=str(data.get("model") or request.model or self.model),
            finish_reason=choice.get("finish_reason"),
            tool_calls=calls,
            wire=data if passthrough else None,
            raw=raw if passthrough else None,
        )

    async def embeddings(self, body: dict[str, Any]) -> bytes:
        """`POST /embeddings` with the caller's body and this provider's embedding model."""
        if not self.embedding_model:
            raise unsupported(self.name, "model", "embeddings")
        return await self._post(
            "/embeddings", orjson.dumps({**body, "model": self.embedding_model})
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamDelta]:
        from aibot.providers.lean_http import BodyCutOff, LeanHttpError

        splitter = ThinkTagSplitter()
        finished = False
        passthrough = request.wire is not None
        body = self._body(request, stream=True)
        try:
            answer = await self._send(
                "POST", "/chat/completions", body, stream=True, seconds=self._timeout
            )
            try:
                await self._check_status(answer)
                async for raw_line in answer.lines():
                    line = raw_line.strip()
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        finished = True
                        break
                    delta = self._parse_chunk(payload, splitter)
                    if delta.finish_reason:
                        finished = True
                    if passthrough or carries_something(delta):
                        yield delta
            finally:
                answer.release()
        except TimeoutError:
            raise self._fail("stream timed out", retryable=True) from None
        except BodyCutOff:
            raise self._fail("stream cut off by the provider", retryable=True) from None
        except LeanHttpError as exc:
            raise self._fail(f"connection failed: {exc}", retryable=True) from None
        if not finished:
            raise self._fail("stream ended before the answer was complete", retryable=True)
        tail_text, tail_reasoning = splitter.flush()
        if (tail_text or tail_reasoning) and not passthrough:
            yield StreamDelta(text=tail_text, reasoning=tail_reasoning)

    def _parse_chunk(self, payload: bytes, splitter: ThinkTagSplitter) -> StreamDelta:
        try:
            chunk = orjson.loads(payload)
            if isinstance(chunk, dict) and "error" in chunk:
                detail = error_detail(payload, 200)
                raise self._fail(
                    f"stream error: {detail['message'][:300]}",
                    status=200,
                    retryable=True,
                    detail=detail,
                )
            delta = read_chunk(chunk, splitter)
        except (orjson.JSONDecodeError, MalformedAnswer):
            raise self._fail("malformed stream chunk", status=200, retryable=True) from None
        delta.chunk = chunk
        delta.raw = payload
        return delta


def _accepts(accepts: Accepts, config: ProviderConfig) -> Accepts:
    """The preset's, with `vision:` from config when set: the operator knows this model."""
    if config.vision is None:
        return accepts
    return dataclasses.replace(accepts, vision=config.vision)


def carries_something(delta: StreamDelta) -> bool:
    """A gateway-built stream skips events with nothing in them (a role-only first chunk)."""
    return bool(
        delta.text or delta.reasoning or delta.usage or delta.finish_reason or delta.tool_calls
    )
