"""Ratings of answers: /good and /bad in any channel, the web page's 👍/👎 over its socket."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.fakes.feishu_api import FakeFeishu
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeTelegram
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.net import free_port
from tests.support.waiting import wait_until


def ratings(gw: RunningGateway) -> list[tuple[Any, ...]]:
    path = Path(gw.config["storage"]["url"].removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT user_id, channel, score, provider, model, route, session_key "
            "FROM ratings ORDER BY created_at"
        ).fetchall()


async def metrics(gw: RunningGateway) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/metrics") as response:
        return await response.text()


async def test_good_and_bad_rate_the_last_answer_once_per_user(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(
        {
            "routes": [
                {"name": "faq", "match": {"prefix": "faq"}, "system_prompt": "Answer briefly."}
            ]
        }
    )
    assert "还没有可以评价的回答" in (await gw.chat("/good", session="a"))[1]["reply"]
    await gw.chat("faq: what is this?", session="a", user_id="ann")
    assert "感谢反馈" in (await gw.chat("/good", session="a", user_id="ann"))[1]["reply"]
    assert "感谢反馈" in (await gw.chat("/good", session="a", user_id="ann"))[1]["reply"]
    assert ratings(gw) == [("api:key-1:ann", "api", 1, "fake", "fake-model", "faq", "api:key-1:a")]
    await gw.chat("/bad", session="a", user_id="ann")  # a changed mind replaces the rating
    assert ratings(gw) == [("api:key-1:ann", "api", -1, "fake", "fake-model", "faq", "api:key-1:a")]
    assert len(fake_llm.requests) == 1  # rating is a command: the model never sees it
    text = await metrics(gw)
    assert (
        'aibot_feedback_total{channel="api",provider="fake",rating="good",route="faq"} 2.0' in text
    )
    assert (
        'aibot_feedback_total{channel="api",provider="fake",rating="bad",route="faq"} 1.0' in text
    )


async def test_web_page_rates_its_own_answers_only(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    ws_url = f"{gw.url.replace('http', 'ws')}/ws"
    async with aiohttp.ClientSession() as http:
        other = await http.ws_connect(ws_url)
        await other.send_json({"type": "hello"})
        await other.receive_json(timeout=10)
        await other.send_json({"type": "message", "id": "x", "text": "someone else's"})
        while (frame := await other.receive_json(timeout=10))["type"] != "done":
            pass
        foreign = frame["request_id"]

        ws = await http.ws_connect(ws_url)
        await ws.send_json({"type": "hello"})
        session = (await ws.receive_json(timeout=10))["session_id"]
        await ws.send_json({"type": "message", "id": "m", "text": "hello"})
        while (frame := await ws.receive_json(timeout=10))["type"] != "done":
            pass
        mine = frame["request_id"]
        assert isinstance(mine, str) and mine != foreign

        for request_id, score in ((mine, 1), (mine, -1), (foreign, 1), ("nope", 1), (mine, 5)):
            await ws.send_json({"type": "rate", "request_id": request_id, "score": score})
            answer = await ws.receive_json(timeout=10)
            expected = score if request_id == mine and score in (1, -1) else None
            assert answer == {"type": "rated", "request_id": request_id, "score": expected}
        await ws.send_json({"type": "message", "id": "n", "text": "/help"})
        while (frame := await ws.receive_json(timeout=10))["type"] != "done":
            pass
        assert frame["request_id"] is None  # commands are not rateable
        await ws.close()
        await other.close()
    assert ratings(gw) == [(session, "web", -1, "fake", "fake-model", None, f"web:{session}")]


async def test_telegram_buttons_rate_the_answer(gateway_factory: GatewayFactory) -> None:
    async with FakeTelegram(token="123456:TEST-TOKEN", username="gw_test_bot") as tg:
        gw = await gateway_factory(
            {
                "channels": {
                    "telegram": {
                        "bot_token": "123456:TEST-TOKEN",
                        "api_base": tg.base_url,
                        "poll_timeout": 1,
                    }
                }
            }
        )
        tg.user_message(42, "hello")
        (answer,) = await tg.wait_sent(1, chat_id=42, timeout=10)
        good, bad = answer["reply_markup"]["inline_keyboard"][0]
        assert (good["text"], bad["text"]) == ("👍", "👎")

        tg.press_button(42, answer["message_id"], bad["callback_data"])
        tg.press_button(42, answer["message_id"], good["callback_data"])
        assert await wait_until(lambda: len(tg.callback_answers) == 2, timeout=10)
        # The presses carry no language_code: the toast is in ui.default_language.
        assert all(a["text"] == "感谢反馈！" for a in tg.callback_answers)
        assert [r[:3] for r in ratings(gw)] == [("42", "telegram", 1)]

        tg.user_message(42, "/help")  # commands carry no buttons
        (_, help_text) = await tg.wait_sent(2, chat_id=42, timeout=10)
        assert "reply_markup" not in help_text
        with pytest.raises(ValueError, match="no button"):
            tg.press_button(42, help_text["message_id"], good["callback_data"])


async def test_feishu_card_buttons_rate_the_answer(gateway_factory: GatewayFactory) -> None:
    async with FakeFeishu(encrypt_key="k-1", verification_token="t-1", app_secret="s-1") as lark:
        port = free_port()
        lark.webhook_url = f"http://127.0.0.1:{port}/feishu/webhook"
        gw = await gateway_factory(
            {
                "server": {"port": port},
                "channels": {
                    "feishu": {
                        "app_id": lark.app_id,
                        "app_secret": "s-1",
                        "verification_token": "t-1",
                        "encrypt_key": "k-1",
                        "api_base": lark.base_url,
                        "reply_format": "card",
                    }
                },
            }
        )
        lark.user_message("oc_dm", "hello", user="ou_ann")
        await lark.wait_texts("oc_dm", 1)
        (answer,) = lark.bot_messages("oc_dm")
        assert answer.text == "echo: hello"
        good, bad = answer.buttons
        assert (await lark.card_action(answer.message_id, bad, "ou_ann"))["toast"][
            "type"
        ] == "success"
        toast = await lark.card_action(answer.message_id, good, "ou_ann")
        assert toast == {
            "toast": {"type": "success", "content": "感谢反馈！"}  # Feishu sends no locale
        }
        assert [r[:3] for r in ratings(gw)] == [("ou_ann", "feishu", 1)]
