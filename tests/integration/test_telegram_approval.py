"""Tool approval by Telegram's inline buttons, in the real gateway against the fake Bot API:
the question comes with approve/deny buttons in the chat's language, a press by the asked user
settles it like `/approve` or `/deny`, anyone else's press changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.openai_server import CallTools, FakeOpenAI
from tests.fakes.telegram_api import FakeTelegram
from tests.support.gateway import GatewayFactory
from tests.support.tool_calls import answer_from_tools, tool_audit
from tests.support.waiting import wait_until

TOKEN = "123456:TEST-TOKEN"
GROUP = -1001234567890
CALC = CallTools((("calculator", '{"expression": "6*7"}'),))


def confirm_config(tg: FakeTelegram) -> dict[str, Any]:
    return {
        "channels": {"telegram": {"bot_token": TOKEN, "api_base": tg.base_url, "poll_timeout": 1}},
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
        "tools": {"enabled": ["calculator"], "confirm": ["calculator"]},
        "routes": [{"name": "all", "tools": ["calculator"]}],
    }


def buttons(message: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    approve, deny = message["reply_markup"]["inline_keyboard"][0]
    return approve, deny


async def test_buttons_approve_and_deny_for_the_asked_user_only(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    async with FakeTelegram(token=TOKEN, username="gw_test_bot") as tg:
        gw = await gateway_factory(confirm_config(tg))
        fake_llm.script(CALC)
        tg.user_message(GROUP, "@gw_test_bot 6*7?", user_id=5, language_code="zh-hans")
        (question,) = await tg.wait_sent(1, chat_id=GROUP, timeout=10)
        assert "calculator" in question["text"] and "/approve" in question["text"]
        approve, deny = buttons(question)
        assert (approve["text"], deny["text"]) == ("批准", "拒绝")

        tg.press_button(GROUP, question["message_id"], approve["callback_data"], user_id=6)
        assert await wait_until(lambda: len(tg.callback_answers) == 1, timeout=10)
        assert tg.callback_answers[0]["text"] == "这项确认已失效，或不需要由你回答。"
        assert len(fake_llm.chat_requests()) == 1  # still waiting: the tool did not run
        assert not tg.edits  # the buttons stay for the asked user

        tg.press_button(GROUP, question["message_id"], approve["callback_data"], user_id=5)
        answer = (await tg.wait_sent(2, chat_id=GROUP, timeout=10))[1]
        assert answer["text"] == "tools said: 42", answer
        assert tg.callback_answers[1]["text"] == "已批准，工具将运行。"
        assert await wait_until(lambda: len(tg.edits) == 1, timeout=10)
        assert tg.edits[0]["message_id"] == question["message_id"]
        assert "reply_markup" not in tg.edits[0]  # decided: the buttons are gone
        with pytest.raises(ValueError, match="no button"):
            tg.press_button(GROUP, question["message_id"], deny["callback_data"], user_id=5)

        fake_llm.script(CALC)
        tg.user_message(42, "again please", language_code="en")
        (question,) = await tg.wait_sent(1, chat_id=42, timeout=10)
        approve, deny = buttons(question)
        tg.press_button(42, question["message_id"], deny["callback_data"])
        answer = (await tg.wait_sent(2, chat_id=42, timeout=10))[1]
        assert answer["text"] == "tools said: error: the user did not approve this call"
        assert [target.rsplit(" ", 1)[1] for _, target in tool_audit(gw)] == ["ok", "denied"]

        fake_llm.script(CALC)  # typed commands keep working beside the buttons
        tg.user_message(42, "once more", language_code="en")
        await tg.wait_sent(3, chat_id=42, timeout=10)
        tg.user_message(42, "/approve", language_code="en")
        answer = (await tg.wait_sent(4, chat_id=42, timeout=10))[3]
        assert answer["text"] == "tools said: 42"
