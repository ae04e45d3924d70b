"""The OpenAI-compatible client and router against the fake server over loopback."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from aibot.config import ProviderConfig
from aibot.core.messages import ChatRequest, Message
from aibot.ops.metrics import Metrics
from aibot.providers.base import ProviderError
from aibot.providers.openai_compat import OpenAICompatibleProvider, parse_retry_after
from aibot.providers.router import NoProviderError, ProviderRouter
from tests.fakes.openai_server import (
    Fail,
    FakeOpenAI,
    GarbageBody,
    Hang,
    MalformedChunk,
    Truncate,
)
from tests.support.clock import FakeClock

ASK = ChatRequest([Message("user", "hello")])


def provider(fake: FakeOpenAI, name: str = "p", **extra: object) -> OpenAICompatibleProvider:
    settings: dict[str, object] = {
        "base_url": fake.base_url,
        "api_key": "sk-k",
        "model": "m",
        "max_retries": 2,
        "timeout": 2,
        **extra,
    }
    return OpenAICompatibleProvider(name, ProviderConfig.model_validate(settings))


def router(
    *providers: OpenAICompatibleProvider,
    fallbacks: list[str] | None = None,
    metrics: Metrics | None = None,
) -> ProviderRouter:
    return ProviderRouter(
        {p.name: p for p in providers},
        providers[0].name if providers else None,
        fallbacks or [],
        metrics or Metrics(),
        backoff_base=0.01,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key="sk-k") as server:
        yield server


async def collect(r: ProviderRouter, request: ChatRequest = ASK) -> tuple[list[str], str]:
    pieces: list[str] = []

    async def sink(text: str) -> None:
        pieces.append(text)

    result = await r.complete(request, on_delta=sink)
    return pieces, result.text


async def test_plain_and_streamed_answers(fake: FakeOpenAI) -> None:
    r = router(provider(fake))
    result = await r.complete(ASK)
    assert result.text == "echo: hello"
    assert result.usage.completion_tokens > 0
    pieces, text = await collect(r)
    assert len(pieces) > 1 and "".join(pieces) == text == "echo: hello"
    body = fake.requests[-1].json
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-k"
    await r.close()


async def test_429_waits_retry_after_then_succeeds(fake: FakeOpenAI) -> None:
    fake.script(Fail(429, retry_after=0.3))
    metrics = Metrics()
    r = router(provider(fake), metrics=metrics)
    started = time.monotonic()
    result = await r.complete(ASK)
    assert time.monotonic() - started >= 0.3
    assert result.text == "echo: hello"
    assert metrics.provider_errors.labels("p", "rate_limited")._value.get() == 1
    await r.close()


async def test_5xx_and_timeouts_are_retried(fake: FakeOpenAI) -> None:
    fake.script(Fail(500), Hang(3.0))
    r = router(provider(fake, timeout=0.5))
    assert (await r.complete(ASK)).text == "echo: hello"
    assert len(fake.requests) == 3
    await r.close()


async def test_auth_errors_are_not_retried_and_say_so(fake: FakeOpenAI) -> None:
    bad = OpenAICompatibleProvider("p", ProviderConfig(base_url=fake.base_url, api_key="wrong"))
    r = router(bad)
    with pytest.raises(ProviderError, match=r"HTTP 401.*check the API key") as caught:
        await r.complete(ASK)
    assert caught.value.kind == "auth"
    assert len(fake.requests) == 1
    await r.close()


async def test_garbage_body_is_a_retryable_bad_response(fake: FakeOpenAI) -> None:
    fake.script(GarbageBody(), GarbageBody(), GarbageBody())
    r = router(provider(fake))
    with pytest.raises(ProviderError, match="malformed"):
        await r.complete(ASK)
    assert len(fake.requests) == 3
    await r.close()


async def test_stream_failure_before_any_text_is_retried(fake: FakeOpenAI) -> None:
    fake.script(Truncate(after_chunks=0))
    r = router(provider(fake))
    pieces, text = await collect(r)
    assert text == "echo: hello" and "".join(pieces) == text
    await r.close()


@pytest.mark.parametrize("action", [MalformedChunk(after_chunks=2), Truncate(after_chunks=3)])
async def test_stream_failure_after_text_is_reported_not_duplicated(
    fake: FakeOpenAI, action: MalformedChunk | Truncate
) -> None:
    fake.script(action)
    r = router(provider(fake))
    pieces: list[str] = []

    async def sink(text: str) -> None:
        pieces.append(text)

    with pytest.raises(ProviderError):
        await r.complete(ASK, on_delta=sink)
    assert len(fake.requests) == 1  # no second answer appended to what the user saw
    await r.close()


async def test_fallback_chain(fake: FakeOpenAI) -> None:
    async with FakeOpenAI() as backup:
        fake.script(Fail(503), Fail(503), Fail(503))
        primary = provider(fake, "primary", max_retries=2)
        secondary = provider(backup, "backup")
        r = router(primary, secondary, fallbacks=["backup"])
        result = await r.complete(ASK)
        assert result.provider == "backup" and result.text == "echo: hello"
        assert len(fake.requests) == 3 and len(backup.requests) == 1
        await r.close()


async def test_unreachable_provider_is_a_clear_error() -> None:
    dead = OpenAICompatibleProvider(
        "dead", ProviderConfig(base_url="http://127.0.0.1:9/v1", max_retries=0, connect_timeout=1)
    )
    with pytest.raises(ProviderError, match="dead: connection failed"):
        await router(dead).complete(ASK)
    await dead.close()


async def test_no_provider() -> None:
    with pytest.raises(NoProviderError, match="ai-bot init"):
        await router().complete(ASK)


@pytest.mark.parametrize("think_tags", [False, True])
async def test_reasoning_is_split_off(think_tags: bool) -> None:
    async with FakeOpenAI(reasoning="secret chain", think_tags=think_tags) as server:
        r = router(provider(server))
        plain = await r.complete(ASK)
        pieces, text = await collect(r)
        for answer in (plain.text, text, "".join(pieces)):
            assert answer == "echo: hello"
        assert plain.reasoning == "secret chain"
        await r.close()


@pytest.mark.parametrize(
    ("preset", "expect_field", "expect_tags"),
    [
        ("deepseek", True, False),
        ("minimax", False, True),
        ("openai", False, False),
    ],
)
async def test_reasoning_echo_per_preset(
    fake: FakeOpenAI, preset: str, expect_field: bool, expect_tags: bool
) -> None:
    p = provider(fake, preset=preset)
    history = ChatRequest(
        [Message("user", "q1"), Message("assistant", "a1", "why"), Message("user", "q2")]
    )
    await p.chat(history)
    sent = fake.requests[-1].json["messages"][1]
    assert ("reasoning_content" in sent) is expect_field
    assert sent["content"].startswith("<think>why</think>") is expect_tags
    await p.close()


def test_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "1500"}) == 1.5
    assert (
        parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0)
        == 10.0
    )
    assert parse_retry_after({}) is None


def test_unknown_preset_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        OpenAICompatibleProvider("x", ProviderConfig(preset="nope"))


def test_proxy_is_resolved_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from aibot.ops.proxy import proxy_for

    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1,.corp")
    assert proxy_for("https://api.deepseek.com/v1") == "http://proxy.internal:3128"
    assert proxy_for("http://127.0.0.1:11434/v1") is None
    assert proxy_for("https://llm.corp/v1") is None


async def test_circuit_opens_skips_and_recovers(fake: FakeOpenAI) -> None:
    clock = FakeClock(100.0)
    async with FakeOpenAI() as backup:
        primary = provider(fake, "primary", max_retries=0)
        r = ProviderRouter(
            {"primary": primary, "backup": provider(backup, "backup")},
            "primary",
            ["backup"],
            Metrics(),
            breaker_failures=2,
            breaker_cooldown=30,
            monotonic=clock,
        )

        def primary_state() -> str:
            return r.breakers["primary"].state

        fake.script(Fail(503), Fail(503))
        for _ in range(2):
            assert (await r.complete(ASK)).provider == "backup"
        assert primary_state() == "open"
        assert (await r.complete(ASK)).provider == "backup"
        assert len(fake.requests) == 2  # skipped while open: no third call to the primary

        clock.now += 31  # cooldown over: one trial call goes to the primary and succeeds
        assert (await r.complete(ASK)).provider == "primary"
        assert primary_state() == "closed"
        await r.close()


async def test_open_circuit_without_fallback_fails_fast(fake: FakeOpenAI) -> None:
    only = provider(fake, "only", max_retries=0)
    r = ProviderRouter(
        {"only": only}, "only", [], Metrics(), breaker_failures=1, breaker_cooldown=60
    )
    fake.script(Fail(500))
    with pytest.raises(ProviderError):
        await r.complete(ASK)
    with pytest.raises(NoProviderError, match=r"failing .* trying again in"):
        await r.complete(ASK)
    assert len(fake.requests) == 1
    await r.close()


async def test_request_errors_do_not_open_the_circuit(fake: FakeOpenAI) -> None:
    only = provider(fake, "only", max_retries=0)
    r = ProviderRouter({"only": only}, "only", [], Metrics(), breaker_failures=1)
    fake.script(Fail(400))
    with pytest.raises(ProviderError):
        await r.complete(ASK)
    assert r.breakers["only"].state == "closed"
    assert (await r.complete(ASK)).text == "echo: hello"
    await r.close()


async def test_a_failure_says_trying_fallback_only_when_there_is_one(fake: FakeOpenAI) -> None:
    """Issue 18: "provider failed, trying fallback" was logged with no fallback configured."""
    from structlog.testing import capture_logs

    alone = router(provider(fake, "alone", max_retries=0))
    fake.script(Fail(503))
    with capture_logs() as logs, pytest.raises(ProviderError):
        await alone.complete(ASK)
    events = [entry["event"] for entry in logs]
    assert "provider failed, trying fallback" not in events
    assert "provider failed, no fallback left" in events
    await alone.close()
    async with FakeOpenAI() as backup:
        fake.script(Fail(503))
        backed = router(
            provider(fake, "primary", max_retries=0),
            provider(backup, "backup"),
            fallbacks=["backup"],
        )
        with capture_logs() as logs:
            assert (await backed.complete(ASK)).provider == "backup"
        assert [e["event"] for e in logs].count("provider failed, trying fallback") == 1
        await backed.close()
