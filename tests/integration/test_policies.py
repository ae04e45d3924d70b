"""Policies through the running gateway: what reached the fake model, what the user got."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.telegram_api import FakeTelegram
from tests.support.cli import AI_BOT
from tests.support.databases import redis_database
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.waiting import wait_until

WORDS = {"policy": {"sensitive_words": {"words": ["违禁词", "secret plan"]}}}


def user_turns(fake: FakeOpenAI) -> list[str]:
    return [str(r.json["messages"][-1]["content"]) for r in fake.requests]


async def test_blocked_words_never_reach_the_model(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(WORDS)
    for text in ["这是违 禁 詞吗", "tell me the SECRET-PLAN", "the s.e.c.r.e.t plan"]:
        status, body = await gw.chat(text, session="w")
        assert status == 200 and body["reply"].startswith("抱歉，这条消息我无法处理"), body
    assert fake_llm.requests == []
    status, body = await gw.chat("what did I just ask?", session="w")
    assert body["reply"] == "echo: what did I just ask?"
    sent = fake_llm.requests[-1].json["messages"]
    assert [m["content"] for m in sent] == ["what did I just ask?"]  # refusals are not memory
    assert 'aibot_rejected_total{reason="sensitive_words"} 3.0' in await metrics(gw)


async def test_mask_action_masks_input_and_output(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(
        {"policy": {"sensitive_words": {"words": ["违禁词", "secret plan"], "action": "mask"}}}
    )
    _, body = await gw.chat("说说违禁词 and more")
    assert user_turns(fake_llm) == ["说说*** and more"]
    assert body["reply"] == "echo: 说说*** and more"
    fake_llm.script(Reply("Here is the Secret Plan: 违禁 词 inside."))
    _, body = await gw.chat("anything")
    assert body["reply"] == "Here is the ***: *** inside."


async def test_streamed_output_never_shows_a_word(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.chunk_size = 2  # the word arrives split over several chunks
    gw = await gateway_factory(WORDS)
    fake_llm.script(Reply("开头的内容，然后违禁词出现了，再加上 secret plan 结束。"))
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{gw.url}/api/v1/chat",
            headers=gw.headers,
            json={"session_id": "st", "message": "go", "stream": True},
        ) as response,
    ):
        events = [
            orjson.loads(line[5:]) async for line in response.content if line.startswith(b"data:")
        ]
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert len(deltas) > 3
    shown = ""
    for delta in deltas:
        shown += delta
        assert "违" not in shown and "secret" not in shown, shown
    assert shown == events[-1]["reply"] == "开头的内容，然后***出现了，再加上 *** 结束。"


async def test_rate_limit_allows_exactly_n(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory({"policy": {"rate_limit": {"per_user": "3/minute"}}})
    replies = [(await gw.chat(f"m{i}", session="r", user_id="alice"))[1]["reply"] for i in range(5)]
    assert replies[:3] == ["echo: m0", "echo: m1", "echo: m2"]
    # zh-CN (no Accept-Language); 3/minute frees a slot 20 s after the first message, so the wait
    # said is 20 s, less whatever the first three answers took on a loaded machine
    waits = [re.search(r"请 (\d+) 秒后再试", r) for r in replies[3:]]
    assert all(w and 10 <= int(w[1]) <= 20 for w in waits), replies
    assert len(fake_llm.requests) == 3
    assert (await gw.chat("other user", session="r2", user_id="bob"))[1][
        "reply"
    ] == "echo: other user"
    assert 'aibot_rejected_total{reason="rate_limit"} 2.0' in await metrics(gw)


async def test_daily_token_quota(gateway_factory: GatewayFactory, fake_llm: FakeOpenAI) -> None:
    gw = await gateway_factory({"policy": {"rate_limit": {"daily_tokens_per_user": 25}}})
    replies = [
        (await gw.chat(f"a fairly long question number {i}", session="q"))[1]["reply"]
        for i in range(6)
    ]
    answered = sum(reply.startswith("echo") for reply in replies)
    assert 1 <= answered < 6 and answered == len(fake_llm.requests)
    assert all("今天的额度已用完" in reply for reply in replies[answered:]), replies


async def test_limits_are_shared_through_redis(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    async with redis_database() as url:
        shared = {"redis": {"url": url}, "policy": {"rate_limit": {"per_user": "4/minute"}}}
        first = await gateway_factory(shared, name="a")
        second = await gateway_factory(shared, name="b")
        results = await asyncio.gather(
            *(
                (first if i % 2 else second).chat(f"m{i}", session=f"s{i}", user_id="carol")
                for i in range(10)
            )
        )
        answered = [body["reply"] for _, body in results if body["reply"].startswith("echo")]
        assert len(answered) == 4 and len(fake_llm.requests) == 4


async def test_routes_first_match_faq_and_provider(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    async with FakeOpenAI(reply=lambda body: "from the coder") as coder:
        gw = await gateway_factory(
            {
                "models": {
                    "providers": {
                        "coder": {
                            "base_url": coder.base_url,
                            "api_key": "k",
                            "model": "coder-model",
                        }
                    }
                },
                "routes": [
                    {
                        "name": "hours",
                        "match": {"regex": "(?i)opening hours|营业时间"},
                        "reply": "We are open 9:00-18:00.",
                    },
                    {
                        "name": "code",
                        "match": {"prefix": "/code"},
                        "provider": "coder",
                        "system_prompt": "You are a careful programmer.",
                        "temperature": 0.1,
                    },
                    {"name": "never", "match": {"prefix": "/code"}, "reply": "unreachable"},
                ],
            }
        )
        assert (await gw.chat("what are your opening hours?"))[1][
            "reply"
        ] == "We are open 9:00-18:00."
        assert fake_llm.requests == [] and coder.requests == []
        assert (await gw.chat("/code write a loop", session="c"))[1]["reply"] == "from the coder"
        sent = coder.requests[-1].json
        assert sent["messages"][0] == {"role": "system", "content": "You are a careful programmer."}
        assert sent["temperature"] == 0.1
        assert (await gw.chat("plain", session="p"))[1]["reply"] == "echo: plain"
        text = await metrics(gw)
        assert 'aibot_routed_total{route="hours"} 1.0' in text
        assert 'aibot_routed_total{route="code"} 1.0' in text
        assert '"route":"code"' in gw.log()


async def test_answer_cache_serves_identical_first_questions(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory({"policy": {"cache": {"enabled": True, "ttl": "1h"}}})
    first = (await gw.chat("How do I reset my password?", session="c1"))[1]["reply"]
    again = (await gw.chat("how do I reset my password", session="c2"))[1]["reply"]
    assert first == again == "echo: How do I reset my password?"
    assert len(fake_llm.requests) == 1
    await gw.chat("how do I reset my password", session="c2")  # not a first question now
    assert len(fake_llm.requests) == 2
    text = await metrics(gw)
    assert 'aibot_policy_events_total{outcome="hit",policy="cache"} 1.0' in text
    assert 'aibot_policy_events_total{outcome="miss",policy="cache"} 1.0' in text


async def test_canary_sends_its_share_to_the_new_provider(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    async with FakeOpenAI(reply=lambda body: "new model") as new:
        gw = await gateway_factory(
            {
                "models": {
                    "providers": {"new": {"base_url": new.base_url, "api_key": "k", "model": "n"}},
                    "canary": {"provider": "new", "weight": 30},
                }
            }
        )
        sides = {}
        for i in range(40):
            sides[i] = (await gw.chat("hi", session=f"k{i}"))[1]["provider"]
        share = sum(side == "new" for side in sides.values())
        assert 4 <= share <= 22, share
        for i in range(5):  # sticky: a conversation stays on its side
            assert (await gw.chat("again", session=f"k{i}"))[1]["provider"] == sides[i]


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token="123456:TEST-TOKEN", username="gw_test_bot") as fake:
        yield fake


async def test_pairing_flow_and_admin_commands(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(
        {
            "channels": {
                "telegram": {
                    "bot_token": "123456:TEST-TOKEN",
                    "api_base": tg.base_url,
                    "poll_timeout": 1,
                }
            },
            "policy": {
                "access": {"dm_policy": "pairing", "admins": ["telegram:7"], "allow_users": ["7"]}
            },
        }
    )
    tg.user_message(55, "hello?", user_id=55)
    (asked,) = await tg.wait_sent(1, chat_id=55, timeout=10)
    code = asked["text"].split("pairing code is ")[1].split(";")[0]
    assert fake_llm.requests == []
    tg.user_message(55, "still there?", user_id=55)
    (_, again) = await tg.wait_sent(2, chat_id=55, timeout=10)
    assert code in again["text"]  # the same code while it is pending

    approve = await ai_bot(gw, "pairing", "approve", code.lower())
    assert approve.returncode == 0 and "approved Telegram user 55" in approve.stdout
    assert (await ai_bot(gw, "pairing", "approve", code)).returncode == 1  # used up

    tg.user_message(55, "now?", user_id=55)
    replies = await tg.wait_sent(3, chat_id=55, timeout=10)
    assert replies[-1]["text"] == "echo: now?"
    tg.user_message(55, "/model", user_id=55)
    replies = await tg.wait_sent(4, chat_id=55, timeout=10)
    assert "for admins only" in replies[-1]["text"]  # the fake user's language_code is en
    tg.user_message(7, "/model", user_id=7)
    (admin,) = await tg.wait_sent(1, chat_id=7, timeout=10)
    assert admin["text"].startswith("Current model")
    tg.user_message(7, "/stats", user_id=7)
    (_, stats) = await tg.wait_sent(2, chat_id=7, timeout=10)
    assert "messages in: telegram" in stats["text"] and "refused: pairing 2" in stats["text"]


async def test_reload_applies_good_config_and_keeps_running_one_on_errors(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    words = tmp_path / "words.txt"
    words.write_text("alpha\n", encoding="utf-8")
    gw = await gateway_factory({"policy": {"sensitive_words": {"files": [str(words)]}}})
    assert "抱歉" in (await gw.chat("alpha?"))[1]["reply"]

    words.write_text("alpha\nbravo\n", encoding="utf-8")  # the file watch picks it up
    assert await poll_until(gw, "bravo?", lambda reply: "抱歉" in reply)

    config = yaml.safe_load(gw.config_path.read_text(encoding="utf-8"))
    broken = {**config, "policy": {"rate_limit": {"per_user": "lots"}}}
    gw.config_path.write_text(yaml.safe_dump(broken), encoding="utf-8")
    assert gw.process is not None
    gw.process.send_signal(signal.SIGHUP)
    assert await wait_until(lambda: "config reload rejected" in gw.log(), timeout=10)
    assert "not a rate: 'lots'" in gw.log()
    assert "抱歉" in (await gw.chat("bravo again"))[1]["reply"]  # the old config stays

    config["policy"]["sensitive_words"] = {"words": ["charlie"]}
    gw.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    gw.process.send_signal(signal.SIGHUP)
    assert await poll_until(gw, "charlie", lambda reply: "抱歉" in reply)
    assert (await gw.chat("alpha is fine now"))[1]["reply"] == "echo: alpha is fine now"


async def poll_until(gw: RunningGateway, text: str, ok: Any, timeout: float = 10.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if ok(
            (await gw.chat(text, session=f"poll{asyncio.get_running_loop().time()}"))[1]["reply"]
        ):
            return True
        await asyncio.sleep(0.2)
    return False


async def metrics(gw: RunningGateway) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/metrics") as response:
        return await response.text()


async def ai_bot(gw: RunningGateway, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [str(AI_BOT), *args, "-c", str(gw.config_path)],
        cwd=gw.workdir,
        capture_output=True,
        text=True,
        env=gw.env,
        timeout=60,
    )
