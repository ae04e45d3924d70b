"""Tool approval on DingTalk, in the real gateway against the fake DingTalk: in a one-to-one
chat the question is an ActionCard whose buttons type `/approve` or `/deny` for the user
(session webhook, or the robot API once it expired); a second press is only a command nothing
waits for; an unanswered question is denied in time; in groups the question stays text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingtalk
from tests.fakes.openai_server import CallTools, FakeOpenAI
from tests.support.gateway import GatewayFactory
from tests.support.tool_calls import answer_from_tools, tool_audit

CALC = CallTools((("calculator", '{"expression": "6*7"}'),))
DENIED = "tools said: error: the user did not approve this call"
NOTHING_WAITING = (
    "当前没有等待你确认的操作：确认可能已超时，或是在重启前、由另一个实例发出的。"
    "如仍需要，请重新提问。"
)
BUTTONS = [
    ("批准", "dtmd://dingtalkclient/sendMessage?content=%2Fapprove"),
    ("拒绝", "dtmd://dingtalkclient/sendMessage?content=%2Fdeny"),
]


@pytest.fixture
async def ding() -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk(ack_timeout=1.0) as fake:
        yield fake


def confirm_config(ding: FakeDingtalk, **tools: Any) -> dict[str, Any]:
    return {
        "channels": {
            "dingtalk": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "api_base": ding.base_url,
            }
        },
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
        "tools": {"enabled": ["calculator"], "confirm": ["calculator"], **tools},
        "routes": [{"name": "all", "tools": ["calculator"]}],
    }


async def sent(ding: FakeDingtalk, count: int, timeout: float = 10.0) -> list[Any]:
    await ding.wait_for(lambda: len(ding.sent) >= count, timeout)
    return ding.sent


async def test_action_card_buttons_type_the_answer_for_the_user(
    gateway_factory: GatewayFactory, ding: FakeDingtalk, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(confirm_config(ding))
    await ding.wait_for(lambda: len(ding.live) == 1)
    fake_llm.script(CALC)
    ding.say("6*7?")
    card = (await sent(ding, 1))[0]
    assert (card.via, card.msgtype, card.buttons) == ("webhook", "actionCard", BUTTONS)
    assert "calculator" in card.text
    assert len(fake_llm.chat_requests()) == 1  # the turn waits for the answer

    ding.press(card, 0)
    assert (await sent(ding, 2))[1].text == "tools said: 42"
    ding.press(card, 1)  # the card keeps its buttons: a second press is a stray command
    assert (await sent(ding, 3))[2].text == NOTHING_WAITING

    fake_llm.script(CALC)  # the session webhook expired: the robot API sends the card
    ding.say("again", webhook_ttl=-1)
    card = (await sent(ding, 4))[3]
    assert (card.via, card.msgtype, card.buttons) == ("private", "sampleActionCard2", BUTTONS)
    ding.press(card, 1)
    assert (await sent(ding, 5))[4].text == DENIED
    assert [target.rsplit(" ", 1)[1] for _, target in tool_audit(gw)] == ["ok", "denied"]

    fake_llm.script(CALC)  # a group: the robot only hears what @-mentions it, so no buttons
    ding.say("6*7 for the team?", group=True)
    question = (await sent(ding, 6))[5]
    assert question.msgtype == "markdown" and not question.buttons
    assert "/approve" in question.text
    ding.say("/approve", group=True)
    assert (await sent(ding, 7))[6].text == "tools said: 42"


async def test_unanswered_question_is_denied_and_a_late_press_answered(
    gateway_factory: GatewayFactory, ding: FakeDingtalk, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    await gateway_factory(confirm_config(ding, confirm_timeout="1s"))
    await ding.wait_for(lambda: len(ding.live) == 1)
    fake_llm.script(CALC)
    ding.say("6*7?")
    card = (await sent(ding, 1))[0]
    assert (await sent(ding, 2, timeout=30))[1].text == DENIED
    ding.press(card, 0)
    assert (await sent(ding, 3))[2].text == NOTHING_WAITING
