"""A tool question asked by one replica and answered through another (scale-out: PostgreSQL
and Redis): the answer settles it over Redis instead of waiting behind the asking turn's
session lock until the question times out; a second answer is told nothing waits."""

from __future__ import annotations

import asyncio

from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.openai_server import CallTools, FakeOpenAI
from tests.support.databases import SERVER_DATABASES, redis_database
from tests.support.gateway import GatewayFactory, deep_merge
from tests.support.tool_calls import answer_from_tools
from tests.support.webhook_client import CALLBACK_SECRET, post_message, webhook_config

CALC = CallTools((("calculator", '{"expression": "6*7"}'),))


async def test_an_answer_reaching_another_replica_settles_the_question(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    async with (
        SERVER_DATABASES["postgresql"]() as store,
        redis_database() as redis_url,
        CallbackReceiver(secret=CALLBACK_SECRET) as receiver,
    ):
        config = deep_merge(
            webhook_config(receiver),
            {
                "storage": {"url": store},
                "redis": {"url": redis_url, "lease_ttl": "2s"},
                "tools": {
                    "enabled": ["calculator"],
                    "confirm": ["calculator"],
                    "confirm_timeout": "10m",  # a test that waits for it fails by its timeout
                },
                "routes": [{"name": "all", "tools": ["calculator"]}],
            },
        )
        asking, other = await asyncio.gather(
            gateway_factory(config, name="asking"), gateway_factory(config, name="other")
        )
        fake_llm.script(CALC)
        await post_message(asking, "m1", "6*7?", session="c1")
        (question,) = await receiver.wait_for(1)
        assert "calculator" in question["text"]

        await post_message(other, "m2", "/approve", session="c1")
        answer = (await receiver.wait_for(2, timeout=30))[1]
        assert answer["text"] == "tools said: 42", answer
        assert len(fake_llm.chat_requests()) == 2  # asked once, answered once

        await post_message(other, "m3", "/deny", session="c1")
        answer = (await receiver.wait_for(3, timeout=30))[2]
        assert answer["text"].startswith("当前没有等待你确认的操作")
