"""Chooses a provider for a call and makes it reliable: retries with backoff, then fallbacks.

Retries honour `Retry-After`; the delay doubles with full jitter so a 429 storm from one vendor
does not synchronise every session. A streamed answer can only be retried before its first
visible token: after that the user has seen text and a second answer would be a duplicate.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from aibot.core.errors import ModelUnavailable
from aibot.i18n import N_, translate
from aibot.ops.metrics import Metrics
from aibot.providers.base import (
    ChatRequest,
    ChatResult,
    ProviderError,
    StreamDelta,
    Usage,
    caller_fault,
)
from aibot.providers.breaker import CircuitBreaker
from aibot.providers.health import Outage, ProviderHealth, chain_outage, describe, recheck
from aibot.providers.openai_compat import OpenAICompatibleProvider, carries_something
from aibot.providers.wire import ToolCallAssembler

DeltaSink = Callable[[str], Awaitable[None]]
ChunkSink = Callable[[StreamDelta], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

log = structlog.get_logger("aibot.providers")

_MAX_RETRY_AFTER = 30.0


class NoProviderError(ModelUnavailable):
    """No usable provider is configured; the message tells the user how to configure one."""


class ProviderRouter:
    def __init__(
        self,
        providers: dict[str, OpenAICompatibleProvider],
        default: str | None,
        fallbacks: list[str],
        metrics: Metrics,
        *,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        breaker_failures: int = 5,
        breaker_cooldown: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.providers = providers
        self.default = default if default in providers else next(iter(providers), None)
        self.fallbacks = [f for f in fallbacks if f in providers]
        self._metrics = metrics
        self._sleep = sleep
        self._rand = rand
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self.breakers = {
            name: CircuitBreaker(breaker_failures, breaker_cooldown, monotonic)
            for name in providers
        }
        self.health = ProviderHealth()
        self._cooldown = breaker_cooldown

    def problems(self, language: str = "en") -> list[str]:
        """What stops the router from answering, in words a user can act on (the page's banner
        and /readyz show them in the reader's language; the log in English)."""
        if not self.providers:
            return [
                translate(
                    language,
                    "no model provider is configured: run `ai-bot init`, or set a key such as "
                    "DEEPSEEK_API_KEY / MINIMAX_API_KEY / OPENAI_API_KEY in .env and restart",
                )
            ]
        problems = []
        for provider in self.providers.values():
            if provider.needs_key and not provider.has_key:
                if provider.env_key:
                    template = N_(
                        "model provider '{name}' has no API key: "
                        "set {variable} in .env or the environment"
                    )
                else:
                    template = N_(
                        "model provider '{name}' has no API key: "
                        "set models.providers.{name}.api_key in config.yaml"
                    )
                problems.append(
                    translate(language, template, name=provider.name, variable=provider.env_key)
                )
        return problems

    def chain(self, name: str | None) -> list[OpenAICompatibleProvider]:
        first = name if name in self.providers else self.default
        if first is None:
            raise NoProviderError(self.problems()[0])
        names = [first, *(f for f in self.fallbacks if f != first)]
        usable = [self.providers[n] for n in names if self._usable(self.providers[n])]
        if not usable:
            raise NoProviderError(self.problems()[0])
        return usable

    def supports_tools(self, name: str | None) -> bool:
        """Whether the provider that would answer (its preset or config) takes tools."""
        try:
            return self.chain(name)[0].takes_tools
        except NoProviderError:
            return False

    @staticmethod
    def _usable(provider: OpenAICompatibleProvider) -> bool:
        """A provider that needs a key and has none would only burn a request to get a 401."""
        return provider.has_key or not provider.needs_key

    async def complete(
        self,
        request: ChatRequest,
        provider_name: str | None = None,
        on_delta: DeltaSink | None = None,
        on_chunk: ChunkSink | None = None,
    ) -> ChatResult:
        """The answer of the first provider of the chain that gives one.

        Streams when a sink is given: `on_delta` gets the answer's text, `on_chunk` every
        event whole (a pass-through). A request the provider refused as such (a 400, 404, 422)
        goes back at once: another try or another provider would not make it valid.
        """
        last_error: ProviderError | None = None
        chain = self.chain(provider_name)
        sinks = _Sinks(on_delta, on_chunk)
        for index, provider in enumerate(chain):
            breaker = self.breakers[provider.name]
            if not breaker.allows():
                continue
            state = _StreamState()
            try:
                result = await self._with_retries(provider, request, sinks, state)
            except ProviderError as exc:
                last_error = exc
                self._record_failure(provider.name, exc)
                if state.shown or caller_fault(exc):
                    raise
                log.warning(
                    "provider failed, trying fallback"
                    if index < len(chain) - 1
                    else "provider failed, no fallback left",
                    provider=provider.name,
                    error=str(exc),
                )
                continue
            breaker.succeeded()
            self.health.succeeded(provider.name)
            self._metrics.circuit_open.labels(provider.name).set(0)
            return result
        if last_error is not None:
            raise last_error
        wait = min(self.breakers[p.name].retry_in() for p in chain)
        failing = NoProviderError(
            f"the model provider is failing ({self._last_causes(chain)}); "
            f"trying again in {wait:.0f} s"
        )
        failing.status, failing.retry_after = 503, wait
        raise failing

    def _last_causes(self, chain: list[OpenAICompatibleProvider]) -> str:
        """Each provider of the chain with why its last call failed, kept while it is open."""
        causes = []
        for provider in chain:
            failure = self.health.last_failure(provider.name)
            cause = describe("en", provider.vendor, provider.base_url, failure) if failure else ""
            causes.append(f"{provider.name}: {cause}" if cause else provider.name)
        return "; ".join(causes)

    def outage(self, language: str) -> Outage:
        """Whether the default provider or a fallback can answer now, and the causes in
        `language`; starts a probe of a provider that could not be reached (see health.py)."""
        try:
            chain = self.chain(None)
        except NoProviderError:
            return Outage(False, [])  # `problems` already says what is missing
        for provider in chain:
            if self.health.due_for_recheck(provider.name, self._cooldown):
                self.health.keep(asyncio.create_task(recheck(self.health, provider)))
        return chain_outage(self.health, chain, self.breakers, language)

    def _record_failure(self, name: str, exc: ProviderError) -> None:
        if caller_fault(exc):
            return  # the request's fault, not the provider's health
        self.health.failed(name, exc)
        breaker = self.breakers[name]
        breaker.failed()
        if breaker.state != "closed":
            self._metrics.circuit_open.labels(name).set(1)
            log.error(
                "provider circuit open: skipping it until a trial call succeeds",
                provider=name,
                retry_in=round(breaker.retry_in(), 1),
            )

    async def _with_retries(
        self,
        provider: OpenAICompatibleProvider,
        request: ChatRequest,
        sinks: _Sinks,
        state: _StreamState,
    ) -> ChatResult:
        attempts = 1 + provider.max_retries
        for attempt in range(attempts):
            started = time.perf_counter()
            try:
                if sinks.text is None and sinks.chunk is None:
                    result = await provider.chat(request)
                else:
                    result = await self._stream(provider, request, sinks, state)
            except ProviderError as exc:
                self._metrics.provider_errors.labels(provider.name, exc.kind).inc()
                if state.shown or not exc.retryable or attempt == attempts - 1:
                    raise
                if exc.retry_after is not None and exc.retry_after > _MAX_RETRY_AFTER:
                    raise
                delay = self._delay(attempt, exc.retry_after)
                log.info(
                    "retrying model call",
                    provider=provider.name,
                    attempt=attempt + 1,
                    delay=round(delay, 3),
                    error=str(exc),
                )
                await self._sleep(delay)
                continue
            self._metrics.provider_latency.labels(provider.name).observe(
                time.perf_counter() - started
            )
            self._metrics.tokens.labels(provider.name, "prompt").inc(result.usage.prompt_tokens)
            self._metrics.tokens.labels(provider.name, "completion").inc(
                result.usage.completion_tokens
            )
            return result
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self._backoff_max, self._backoff_base * 2.0**attempt)
        return ceiling * (0.5 + self._rand() / 2)

    async def _stream(
        self,
        provider: OpenAICompatibleProvider,
        request: ChatRequest,
        sinks: _Sinks,
        state: _StreamState,
    ) -> ChatResult:
        text: list[str] = []
        reasoning: list[str] = []
        calls = ToolCallAssembler()
        usage = Usage()
        finish: str | None = None
        # Events with nothing in them yet (the role-only first chunk) wait for the first one
        # that has: until something is shown, a failure can still be retried elsewhere.
        held: list[StreamDelta] = []
        async for delta in provider.stream(request):
            if delta.text:
                text.append(delta.text)
                if sinks.text is not None:
                    state.shown = True
                    await sinks.text(delta.text)
            if delta.reasoning:
                reasoning.append(delta.reasoning)
            for piece in delta.tool_calls:
                calls.add(piece)
            usage = delta.usage or usage
            finish = delta.finish_reason or finish
            if sinks.chunk is not None:
                held.append(delta)
                if carries_something(delta):
                    state.shown = True
                    for event in held:
                        await sinks.chunk(event)
                    held.clear()
        if sinks.chunk is not None:
            for event in held:
                await sinks.chunk(event)
        return ChatResult(
            text="".join(text),
            reasoning="".join(reasoning) or None,
            usage=usage,
            provider=provider.name,
            model=request.model or provider.model,
            finish_reason=finish,
            tool_calls=calls.calls(),
        )

    async def embeddings(self, body: dict[str, Any], provider_name: str | None) -> bytes:
        """Embeddings from one provider, retried but never failed over: another provider's
        vectors live in another space, useless beside the ones the caller already has."""
        provider = self.chain(provider_name)[0]
        for attempt in range(1 + provider.max_retries):
            try:
                return await provider.embeddings(body)
            except ProviderError as exc:
                self._metrics.provider_errors.labels(provider.name, exc.kind).inc()
                retry = exc.retryable and attempt < provider.max_retries
                if not retry or (exc.retry_after or 0) > _MAX_RETRY_AFTER:
                    raise
                await self._sleep(self._delay(attempt, exc.retry_after))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await asyncio.gather(*(p.close() for p in self.providers.values()))


class _Sinks:
    """Where a streamed answer goes: its text, its whole events, or both."""

    __slots__ = ("chunk", "text")

    def __init__(self, text: DeltaSink | None, chunk: ChunkSink | None) -> None:
        self.text = text
        self.chunk = chunk


class _StreamState:
    """Whether any answer text reached the user during this provider's attempts."""

    __slots__ = ("shown",)

    def __init__(self) -> None:
        self.shown = False


__all__ = ["ChunkSink", "DeltaSink", "NoProviderError", "ProviderRouter", "StreamDelta"]
