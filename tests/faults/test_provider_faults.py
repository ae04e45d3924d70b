"""Whole-gateway model storms: the fake model misbehaves in one way for every call, under load.

The provider layer's own reactions (retry-after, retries, parsing, the breaker's states) are
unit-tested in tests/unit/test_providers.py; these tests run the real `ai-bot run` with 60
messages across 20 conversations (the webhook channel and `/api/v1/chat`, plain and streamed)
while the model times out, rate-limits, fails, cuts streams or sends garbage. They hold the
gateway to what a user and an operator are promised: every message ends in an answer or a notice,
never a hang; the circuit opens, so a dead model costs fast refusals instead of a retry per
message; and when the model comes back, the circuit closes and nothing is left wedged.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiohttp
import pytest

from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.openai_server import Action, Fail, FakeOpenAI, Hang, MalformedChunk, Truncate
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.gateway_calls import TIMEOUT, Answer, api_chat, metric, post_webhook, readyz
from tests.support.waiting import eventually

HOOK_SESSIONS = 10
API_SESSIONS = 10
ROUNDS = 3
MESSAGES = (HOOK_SESSIONS + API_SESSIONS) * ROUNDS  # 60 across 20 conversations
COOLDOWN = 1.0

FAULTS: dict[str, Action] = {
    "timeout": Hang(5.0),  # longer than the provider's 1 s timeout
    "429-storm": Fail(429, retry_after=0.2),
    "5xx": Fail(503),
    "truncated-stream": Truncate(after_chunks=2),
    "garbage-json": MalformedChunk(after_chunks=2),
}


def storm_config(receiver: CallbackReceiver) -> dict[str, Any]:
    """A 1 s model timeout retried once, and a breaker that opens after three failed calls and
    lets a trial through after `COOLDOWN`: the production shape, with time compressed."""
    return {
        "channels": {"webhook": {"callback_url": receiver.url, "timeout": 2}},
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
        "models": {
            "breaker_failures": 3,
            "breaker_cooldown": f"{COOLDOWN}s",
            "providers": {"fake": {"timeout": 1, "max_retries": 1}},
        },
    }


async def send_wave(
    http: aiohttp.ClientSession, gw: RunningGateway, tag: str, rounds: int
) -> tuple[list[str], list[tuple[bool, Answer]]]:
    """`rounds` messages in each of the 20 conversations, all conversations at once: webhook
    messages are posted in order (the callback answers later), each API conversation waits
    for one answer before its next message, half of them streamed. Returns the webhook message
    ids and each API answer with whether it was streamed."""
    hook_ids: list[str] = []
    for n in range(rounds):
        for s in range(HOOK_SESSIONS):
            message_id = f"{tag}-w{s}-{n}"
            accepted = await post_webhook(http, gw, message_id, f"{tag} w{s} {n}", f"w{s}")
            assert accepted.status == 202, accepted
            hook_ids.append(message_id)

    async def conversation(s: int) -> list[tuple[bool, Answer]]:
        stream = s % 2 == 1
        return [
            (stream, await api_chat(http, gw, f"a{s}", f"{tag} a{s} {n}", stream=stream))
            for n in range(rounds)
        ]

    per_session = await asyncio.gather(*(conversation(s) for s in range(API_SESSIONS)))
    return hook_ids, [answer for answers in per_session for answer in answers]


def assert_failed_cleanly(streamed: bool, answer: Answer) -> None:
    """The API's two failure shapes: a 502 JSON error, or a stream's final `error` event."""
    assert answer.status != TIMEOUT, "the API call hung"
    if streamed:
        assert answer.status == 200 and answer.body is not None, answer
        assert answer.body["type"] == "error" and answer.body["message"], answer
    else:
        assert answer.status == 502 and answer.error_code == "model_unavailable", answer


async def circuit(http: aiohttp.ClientSession, gw: RunningGateway) -> str:
    return str((await readyz(http, gw))["provider"]["circuits"]["fake"])


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
async def test_model_storm_is_answered_trips_the_circuit_and_recovers(
    gateway_factory: GatewayFactory,
    fake_llm: FakeOpenAI,
    fault: Action,
) -> None:
    async with asyncio.timeout(55), CallbackReceiver() as receiver, aiohttp.ClientSession() as http:
        gw = await gateway_factory(storm_config(receiver))
        fake_llm.fault = fault

        hook_ids, answers = await send_wave(http, gw, "storm", ROUNDS)
        for streamed, answer in answers:
            assert_failed_cleanly(streamed, answer)
        notices = await receiver.wait_for(len(hook_ids), timeout=20)
        assert Counter(n["in_reply_to"] for n in notices) == Counter(hook_ids), (
            "each webhook message is told exactly once"
        )
        assert all(n["text"].startswith("⚠️ 模型暂时不可用，请稍后再试") for n in notices), notices
        # Without the breaker every message would cost two calls; open, it costs none.
        assert len(fake_llm.requests) < MESSAGES, len(fake_llm.requests)
        assert await circuit(http, gw) in ("open", "half_open")
        assert await metric(http, gw, "aibot_provider_circuit_open", provider="fake") == 1

        fake_llm.fault = None

        async def probe_answered() -> bool:
            probe = await api_chat(http, gw, "probe", "are you back?")
            return probe.status == 200

        # The first trial call after the cooldown closes the circuit.
        assert await eventually(probe_answered, COOLDOWN + 5), "the circuit never closed"
        assert await circuit(http, gw) == "closed"
        assert await metric(http, gw, "aibot_provider_circuit_open", provider="fake") == 0

        before = len(receiver.received)
        hook_ids, answers = await asyncio.wait_for(send_wave(http, gw, "after", 1), 5)
        for _streamed, answer in answers:
            assert answer.status == 200 and answer.body is not None, answer
            assert answer.body.get("reply", "").startswith("echo: after"), answer
        replies = (await receiver.wait_for(before + len(hook_ids), timeout=5))[before:]
        assert sorted(r["in_reply_to"] for r in replies) == sorted(hook_ids)
        assert all(r["text"].startswith("echo: after") for r in replies), replies

        assert await eventually(lambda: _idle(http, gw), 2), "a worker is still busy"


async def _idle(http: aiohttp.ClientSession, gw: RunningGateway) -> bool:
    """Nothing queued, nothing running: no conversation is wedged behind a dead call."""
    waiting = (await readyz(http, gw))["queue"]["waiting"]
    return waiting == 0 and await metric(http, gw, "aibot_in_flight") == 0
