"""The pipeline in-process with a controllable clock: idle reset, token budget, persistence."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from aibot.config import Config, LoadedConfig, SessionConfig
from aibot.core.messages import Inbound, TurnRecord
from aibot.core.pipeline import TurnContext
from aibot.core.sessions import SessionState, cached_turn
from aibot.core.stages import ContextStage
from aibot.gateway.build import Gateway
from tests.fakes.openai_server import FakeOpenAI
from tests.support.clock import FakeClock


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


async def gateway(
    tmp_path: Path,
    fake: FakeOpenAI,
    clock: FakeClock,
    routes: list[dict[str, Any]] | None = None,
    **session: Any,
) -> Gateway:
    config = Config.model_validate(
        {
            "routes": routes or [],
            "storage": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
            "models": {
                "default": "fake",
                "providers": {
                    "fake": {
                        "base_url": fake.base_url,
                        "api_key": "sk-x",
                        "model": "m",
                        "max_retries": 0,
                    }
                },
            },
            "session": session,
        }
    )
    gw = Gateway(LoadedConfig(config=config, path=None), clock=clock)
    await gw.start()
    return gw


async def say(gw: Gateway, clock: FakeClock, text: str, session: str = "s") -> TurnContext:
    return await gw.service.handle(
        Inbound(
            channel="test",
            session_key=session,
            user_id="u",
            text=text,
            request_id=uuid.uuid4().hex,
            received_at=clock.now,
            principal="test",
        )
    )


def sent(fake: FakeOpenAI) -> list[str]:
    return [m["content"] for m in fake.requests[-1].json["messages"]]


async def test_idle_reset_starts_fresh_and_survives_reload(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    clock = FakeClock(1_000_000.0)
    gw = await gateway(tmp_path, fake, clock, idle_reset="30m")
    await say(gw, clock, "before")
    clock.now += 60
    await say(gw, clock, "a minute later")
    assert sent(fake) == ["before", "echo: before", "a minute later"]
    clock.now += 31 * 60
    await say(gw, clock, "after a break")
    assert sent(fake) == ["after a break"]
    await gw.stop()

    gw = await gateway(tmp_path, fake, clock, idle_reset="30m")  # cold cache, same store
    clock.now += 1
    await say(gw, clock, "next")
    assert sent(fake) == ["after a break", "echo: after a break", "next"]
    await gw.stop()


async def test_token_budget_and_turn_limit_drop_oldest(tmp_path: Path, fake: FakeOpenAI) -> None:
    clock = FakeClock(1_000_000.0)
    gw = await gateway(tmp_path, fake, clock, max_turns=3, max_context_tokens=256)
    for n in range(6):
        clock.now += 1
        await say(gw, clock, f"q{n}")
    assert sent(fake) == ["q2", "echo: q2", "q3", "echo: q3", "q4", "echo: q4", "q5"]
    clock.now += 1
    await say(gw, clock, "x" * 940)  # ~240 of 256 tokens: only the newest exchange fits
    assert sent(fake) == ["q5", "echo: q5", "x" * 940]
    await gw.stop()


async def test_max_turns_zero_sends_no_history(tmp_path: Path, fake: FakeOpenAI) -> None:
    clock = FakeClock(1_000_000.0)
    gw = await gateway(tmp_path, fake, clock, max_turns=0)
    await say(gw, clock, "q1")
    clock.now += 1
    await say(gw, clock, "q2")
    assert sent(fake) == ["q2"]
    await gw.stop()


def inbound(text: str) -> Inbound:
    return Inbound("test", "s", "u", text, "r", 0.0, principal="test")


async def test_session_max_turns_bounds_the_context_and_a_route_overrides_it() -> None:
    """The bound is the context stage's own, not a side effect of how much memory is cached."""
    turns = [
        cached_turn(TurnRecord(role, f"{role[0]}{n}", float(2 * n + (role == "assistant"))))
        for n in range(4)
        for role in ("user", "assistant")
    ]
    stage = ContextStage(SessionConfig(max_turns=2, idle_reset=None))

    async def context(route_max_turns: int | None) -> list[str]:
        ctx = TurnContext(inbound("q"), 10.0, session=SessionState("s", turns=list(turns)))
        ctx.max_turns = route_max_turns
        await stage(ctx)
        return [m.content for m in ctx.messages]

    assert await context(None) == ["u2", "a2", "u3", "a3", "q"]
    assert await context(3) == ["u1", "a1", "u2", "a2", "u3", "a3", "q"]
    assert await context(0) == ["q"]


async def test_reasoning_is_stored_apart_and_echoed(tmp_path: Path) -> None:
    clock = FakeClock(1_000_000.0)
    async with FakeOpenAI(reasoning="private thoughts", think_tags=True) as fake:
        config = Config.model_validate(
            {
                "storage": {"url": f"sqlite:///{tmp_path / 'r.sqlite'}"},
                "models": {
                    "default": "mm",
                    "providers": {
                        "mm": {"preset": "minimax", "base_url": fake.base_url, "api_key": "sk-x"}
                    },
                },
            }
        )
        gw = Gateway(LoadedConfig(config=config, path=None), clock=clock)
        await gw.start()
        ctx = await say(gw, clock, "hi")
        assert ctx.reply == "echo: hi" and ctx.reasoning == "private thoughts"
        clock.now += 1
        await say(gw, clock, "again")
        history = fake.requests[-1].json["messages"]
        assert history[1]["content"] == "<think>private thoughts</think>\n\necho: hi"
        await gw.stop()


async def test_a_turn_finished_early_is_still_remembered(tmp_path: Path, fake: FakeOpenAI) -> None:
    """A fixed route answer ends the turn before the model; persistence wraps it all the same."""
    clock = FakeClock(1_000_000.0)
    hours = {"name": "hours", "match": {"prefix": "hours?"}, "reply": "9 to 5"}
    gw = await gateway(tmp_path, fake, clock, routes=[hours])
    ctx = await say(gw, clock, "hours?")
    assert ctx.reply == "9 to 5" and fake.requests == []
    clock.now += 1
    await say(gw, clock, "thanks")
    assert sent(fake) == ["hours?", "9 to 5", "thanks"]
    await gw.stop()
