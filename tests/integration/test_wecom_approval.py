"""Tool approval by a WeCom template card, in the real gateway against the fake WeCom: the
question arrives as text followed by a button_interaction card (批准/拒绝); a tap, arriving as
an encrypted template_card_event, runs or refuses the tool and greys the buttons out with the
outcome; a re-delivered tap changes nothing; an unanswered question is denied in time and a
late tap is told it expired."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.openai_server import CallTools, FakeOpenAI
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWecom, Sent
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.tool_calls import answer_from_tools, tool_audit
from tests.support.waiting import wait_until

CALC = CallTools((("calculator", '{"expression": "6*7"}'),))
DENIED = "tools said: error: the user did not approve this call"


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    async with FakeWecom() as fake:
        yield fake


def confirm_config(wecom: FakeWecom, **tools: Any) -> dict[str, Any]:
    return {
        "channels": {
            "wecom": {
                "corp_id": CORP_ID,
                "agent_id": AGENT_ID,
                "secret": SECRET,
                "token": TOKEN,
                "encoding_aes_key": AES_KEY,
                "api_base": wecom.base_url,
            }
        },
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
        "tools": {"enabled": ["calculator"], "confirm": ["calculator"], **tools},
        "routes": [{"name": "all", "tools": ["calculator"]}],
    }


def webhook(gw: RunningGateway) -> str:
    return f"{gw.url}/wecom/webhook"


async def ask(wecom: FakeWecom, gw: RunningGateway, text: str, count: int) -> Sent:
    """The member asks; returns the card that follows the question's text."""
    await wecom.push(webhook(gw), wecom.text_xml("zhangsan", text))
    sent = await wecom.wait_sent(count, "zhangsan")
    question, card = sent[count - 2 : count]
    assert question.msgtype == "text" and "calculator" in question.content
    assert card.msgtype == "template_card" and card.card is not None
    assert card.content == "是否允许这次工具调用？"
    assert [b["text"] for b in card.card["button_list"]] == ["批准", "拒绝"]
    return card


async def test_card_buttons_run_or_refuse_the_tool_once(
    gateway_factory: GatewayFactory, wecom: FakeWecom, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(confirm_config(wecom))
    fake_llm.script(CALC)
    card = await ask(wecom, gw, "6*7?", 2)
    assert len(fake_llm.chat_requests()) == 1  # the turn waits for the tap

    deliveries = await wecom.press(webhook(gw), card, 0, lost=1)  # delivered twice
    assert [d.status for d in deliveries] == [200, 200]
    sent = await wecom.wait_sent(3, "zhangsan")
    assert sent[2].content == "tools said: 42"
    assert await wait_until(lambda: card.replaced is not None, timeout=10)
    assert card.replaced == "已批准"
    assert len(wecom.card_updates) == 1  # the re-delivered tap's code was never used
    with pytest.raises(ValueError, match="no buttons"):
        await wecom.press(webhook(gw), card, 1)

    fake_llm.script(CALC)
    card = await ask(wecom, gw, "again", 5)
    await wecom.press(webhook(gw), card, 1)
    sent = await wecom.wait_sent(6, "zhangsan")
    assert sent[5].content == DENIED
    assert await wait_until(lambda: card.replaced == "已拒绝", timeout=10)
    assert [target.rsplit(" ", 1)[1] for _, target in tool_audit(gw)] == ["ok", "denied"]


async def test_unanswered_question_is_denied_and_a_late_tap_told_it_expired(
    gateway_factory: GatewayFactory, wecom: FakeWecom, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(confirm_config(wecom, confirm_timeout="1s"))
    fake_llm.script(CALC)
    card = await ask(wecom, gw, "6*7?", 2)
    sent = await wecom.wait_sent(3, "zhangsan", timeout=30)
    assert sent[2].content == DENIED
    await wecom.press(webhook(gw), card, 0)
    assert await wait_until(lambda: card.replaced == "已失效", timeout=10)
    assert [target.rsplit(" ", 1)[1] for _, target in tool_audit(gw)] == ["denied"]
