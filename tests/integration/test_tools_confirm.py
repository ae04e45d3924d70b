"""A `confirm` tool through a platform-like channel (the generic webhook): the bot asks, the
turn waits, `/approve` runs the tool and `/deny` refuses it; the REST API cannot be asked."""

from __future__ import annotations

from typing import Any

from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.openai_server import CallTools, FakeOpenAI
from tests.support.gateway import GatewayFactory
from tests.support.tool_calls import answer_from_tools, tool_audit
from tests.support.webhook_client import CALLBACK_SECRET, post_message, webhook_config

CALC = CallTools((("calculator", '{"expression": "6*7"}'),))


def confirm_config(receiver: CallbackReceiver) -> dict[str, Any]:
    return {
        **webhook_config(receiver),
        "tools": {"enabled": ["calculator"], "confirm": ["calculator"]},
        "routes": [{"name": "all", "tools": ["calculator"]}],
    }


async def test_confirm_tool_waits_for_approve_or_deny(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    async with CallbackReceiver(secret=CALLBACK_SECRET) as receiver:
        gw = await gateway_factory(confirm_config(receiver))
        fake_llm.script(CallTools((("calculator", '{"expression": "13812345678*2"}'),)))
        await post_message(gw, "m1", "double my phone number", session="c1")
        (question,) = await receiver.wait_for(1)
        assert "calculator" in question["text"] and "/approve" in question["text"]
        assert "[phone]" in question["text"] and "13812345678" not in question["text"]
        assert len(fake_llm.chat_requests()) == 1  # the turn waits
        await post_message(gw, "m2", "/approve", session="c1")
        answer = (await receiver.wait_for(2))[1]
        assert answer["text"] == "tools said: 27624691356", answer

        fake_llm.script(CALC)
        await post_message(gw, "m3", "again please", session="c1")
        await receiver.wait_for(3)
        await post_message(gw, "m4", "/deny", session="c1")
        answer = (await receiver.wait_for(4))[3]
        assert answer["text"] == "tools said: error: the user did not approve this call"

        await post_message(gw, "m5", "/approve", session="c1")
        answer = (await receiver.wait_for(5))[4]
        assert answer["text"].startswith("当前没有等待你确认的操作：确认可能已超时")
        outcomes = [target.rsplit(" ", 1)[1] for _, target in tool_audit(gw)]
        assert outcomes == ["ok", "denied"]

        fake_llm.script(CALC)
        _, body = await gw.chat("calc over REST", session="rest")
        assert body["reply"] == "tools said: error: the user did not approve this call"
