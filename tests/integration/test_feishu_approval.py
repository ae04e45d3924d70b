"""Tool approval by Feishu card buttons, in the real gateway against the fake open platform:
the question arrives as a card with 批准/拒绝, only the asked user's press decides (the answer
redraws the card without its buttons), another user's or a second press changes nothing, and a
question nobody answers is denied when its time is up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.feishu_api import FakeFeishu, Message
from tests.fakes.openai_server import CallTools, FakeOpenAI
from tests.support.feishu_gateway import KEY, SECRET, TOKEN, feishu_config
from tests.support.gateway import GatewayFactory
from tests.support.tool_calls import answer_from_tools, tool_audit

GROUP = "oc_team"
CALC = CallTools((("calculator", '{"expression": "6*7"}'),))
NOT_WAITING = "这项确认已失效，或不需要由你回答。"
NOT_WAITING_EN = "This question is not waiting for your answer."
DENIED = "tools said: error: the user did not approve this call"


@pytest.fixture
async def lark() -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu(encrypt_key=KEY, verification_token=TOKEN, app_secret=SECRET) as fake:
        yield fake


def confirm_config(lark: FakeFeishu, **tools: Any) -> dict[str, Any]:
    return {
        **feishu_config(lark),
        "tools": {"enabled": ["calculator"], "confirm": ["calculator"], **tools},
        "routes": [{"name": "all", "tools": ["calculator"]}],
    }


def ask(lark: FakeFeishu, text: str, user: str = "ou_ann") -> None:
    lark.user_message(
        GROUP, f"@_user_1 {text}", chat_type="group", user=user, mentions=[("ou_bot", "bot")]
    )


async def question_card(lark: FakeFeishu, count: int) -> Message:
    await lark.wait_texts(GROUP, count)
    card = lark.bot_messages(GROUP)[count - 1]
    assert card.msg_type == "interactive", card
    assert "calculator" in card.text and "/approve" in card.text
    return card


async def test_card_buttons_decide_for_the_asked_user_only(
    gateway_factory: GatewayFactory, lark: FakeFeishu, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(confirm_config(lark))
    fake_llm.script(CALC)
    ask(lark, "6*7?")
    card = await question_card(lark, 1)
    approve, deny = card.buttons
    labels = [
        e["text"]["content"]
        for column in card.content["body"]["elements"][1]["columns"]
        for e in column["elements"]
    ]
    assert labels == ["批准", "拒绝"]
    stale_deny = lark.card_action_event(card.message_id, deny, "ou_ann")  # a second device

    answer = await lark.card_action(card.message_id, approve, "ou_bob")
    assert answer == {
        "toast": {
            "type": "info",
            "content": NOT_WAITING,
            "i18n": {"zh_cn": NOT_WAITING, "en_us": NOT_WAITING_EN},
        }
    }
    assert len(fake_llm.chat_requests()) == 1  # still waiting: the tool did not run
    assert not lark.card_updates and lark.messages[card.message_id].buttons == [approve, deny]

    answer = await lark.card_action(card.message_id, approve, "ou_ann")
    assert answer["toast"]["content"] == "已批准，工具将运行。"
    assert lark.card_updates == [card.message_id]
    redrawn = lark.messages[card.message_id]
    assert redrawn.buttons == [] and "calculator" in redrawn.text and "已批准" in redrawn.text
    await lark.wait_texts(GROUP, 2)
    assert lark.bot_messages(GROUP)[1].text == "tools said: 42"

    answer = await lark.post_card_action(stale_deny)
    assert answer["toast"]["content"] == NOT_WAITING and "card" not in answer
    assert [target.rsplit(" ", 1)[1] for _, target in tool_audit(gw)] == ["ok"]

    fake_llm.script(CALC)
    ask(lark, "again")
    card = await question_card(lark, 3)
    answer = await lark.card_action(card.message_id, card.buttons[1], "ou_ann")
    assert answer["toast"]["content"] == "已拒绝，工具不会运行。"
    assert "已拒绝" in lark.messages[card.message_id].text
    await lark.wait_texts(GROUP, 4)
    assert lark.bot_messages(GROUP)[3].text == DENIED
    assert [target.rsplit(" ", 1)[1] for _, target in tool_audit(gw)] == ["ok", "denied"]


async def test_unanswered_question_is_denied_and_its_buttons_then_say_so(
    gateway_factory: GatewayFactory, lark: FakeFeishu, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    await gateway_factory(confirm_config(lark, confirm_timeout="1s"))
    fake_llm.script(CALC)
    ask(lark, "6*7?")
    card = await question_card(lark, 1)
    await lark.wait_texts(GROUP, 2, timeout=30)
    assert lark.bot_messages(GROUP)[1].text == DENIED
    answer = await lark.card_action(card.message_id, card.buttons[0], "ou_ann")
    assert answer["toast"]["content"] == NOT_WAITING and "card" not in answer
