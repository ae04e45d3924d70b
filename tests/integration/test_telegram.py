"""The Telegram channel in the real gateway process against the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from aibot.channels.telegram.doctor import telegram_checks
from aibot.config import TelegramChannelConfig
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import Fail, FakeTelegram
from tests.support.gateway import GatewayFactory
from tests.support.net import free_port
from tests.support.waiting import wait_until

TOKEN = "123456:TEST-TOKEN"
SECRET = "tg-webhook-secret-1"
GROUP = -1001234567890


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN, username="gw_test_bot") as fake:
        yield fake


def telegram(tg: FakeTelegram, **extra: Any) -> dict[str, Any]:
    return {
        "channels": {
            "telegram": {"bot_token": TOKEN, "api_base": tg.base_url, "poll_timeout": 1, **extra}
        },
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
    }


def last_prompt(fake: FakeOpenAI) -> str:
    return str(fake.requests[-1].json["messages"][-1]["content"])


async def test_private_chat_with_typing(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    fake_llm.latency = 0.3
    await gateway_factory(telegram(tg))
    tg.user_message(42, "hello bot 你好")
    (sent,) = await tg.wait_sent(1, chat_id=42, timeout=10)
    assert sent["text"] == "echo: hello bot 你好"
    assert any(a.chat_id == 42 and a.action == "typing" for a in tg.chat_actions)
    assert tg.calls("deleteWebhook")  # polling never runs with a webhook still set


async def test_group_triggers_and_mention_stripping(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    await gateway_factory(telegram(tg))
    tg.user_message(GROUP, "just chatting among people")
    tg.user_message(GROUP, "@gw_test_bot what is up?")
    (answer,) = await tg.wait_sent(1, chat_id=GROUP, timeout=10)
    assert answer["text"] == "echo: what is up?"
    assert last_prompt(fake_llm) == "what is up?"
    assert "reply_to_message" in answer  # in groups the answer quotes the question
    tg.user_message(GROUP, "and a follow-up", reply_to_bot=True)
    await tg.wait_sent(2, chat_id=GROUP, timeout=10)
    tg.user_message(GROUP, "/help@gw_test_bot")
    help_text = (await tg.wait_sent(3, chat_id=GROUP, timeout=10))[-1]["text"]
    assert "/reset" in help_text
    assert len(fake_llm.requests) == 2  # the unaddressed message and /help never reached it


async def test_markdown_is_rendered_and_long_answers_split(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    await gateway_factory(telegram(tg))
    fake_llm.reply = lambda body: "**bold** and `code` <tag>"
    tg.user_message(42, "format")
    (sent,) = await tg.wait_sent(1, chat_id=42, timeout=10)
    assert sent["text"] == "bold and code <tag>"
    assert {e["type"] for e in sent["entities"]} == {"bold", "code"}

    long_answer = "\n\n".join(f"第{n}段。" + "中文内容" * 120 for n in range(25))
    fake_llm.reply = lambda body: long_answer
    tg.user_message(42, "long please")
    await tg.wait_for(
        lambda: "".join(m["text"] for m in tg.sent_to(42)[1:]).count("段") >= 25, timeout=10
    )
    parts = tg.sent_to(42)[1:]
    assert len(parts) > 1
    assert all(len(p["text"].encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert "".join(p["text"] for p in parts).replace("\n", "") == long_answer.replace("\n", "")


async def test_flood_wait_honoured_and_blocked_chat_not_retried(
    gateway_factory: GatewayFactory,
    tg: FakeTelegram,
) -> None:
    await gateway_factory(telegram(tg))
    tg.script("sendMessage", Fail.flood(retry_after=1))
    tg.user_message(42, "first")
    (sent,) = await tg.wait_sent(1, chat_id=42, timeout=10)
    calls = [c for c in tg.requests if c.method == "sendMessage"]
    assert len(calls) == 2 and calls[1].at - calls[0].at >= 0.9
    assert sent["text"] == "echo: first"

    tg.blocked_chats.add(43)
    tg.user_message(43, "you are blocked")
    assert await wait_until(lambda: len(tg.calls("sendMessage")) >= 3, timeout=10)
    await asyncio.sleep(1.5)
    assert len([c for c in tg.calls("sendMessage") if c["chat_id"] == 43]) == 1


async def test_non_text_messages_get_a_notice(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    await gateway_factory(telegram(tg))
    tg.push_update(
        {
            "message": {
                "message_id": 5,
                "date": 0,
                "chat": {"id": 42, "type": "private"},
                "from": {"id": 42, "is_bot": False, "first_name": "Ann"},
                "video": {"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1},
            }
        }
    )
    (sent,) = await tg.wait_sent(1, chat_id=42, timeout=10)
    assert "暂不支持" in sent["text"]
    assert fake_llm.requests == []


async def test_webhook_mode_then_back_to_polling(
    gateway_factory: GatewayFactory, tg: FakeTelegram
) -> None:
    port = free_port()
    gw = await gateway_factory(
        {
            **telegram(tg, mode="webhook", webhook_secret=SECRET),
            "server": {"port": port, "public_url": f"http://127.0.0.1:{port}"},
        }
    )
    info = await _webhook_info(tg)
    assert info["url"] == f"http://127.0.0.1:{port}/telegram/webhook"
    tg.user_message(42, "via webhook")
    (sent,) = await tg.wait_sent(1, chat_id=42, timeout=10)
    assert sent["text"] == "echo: via webhook"
    assert tg.deliveries and all(d.secret_token == SECRET for d in tg.deliveries)
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
            async with http.post(
                f"{gw.url}/telegram/webhook", json={"update_id": 1}, headers=headers
            ) as response:
                assert response.status == 401

    await gw.stop()
    gw.config["channels"]["telegram"]["mode"] = "polling"
    await gw.start()
    assert await wait_until(lambda: tg.calls("getUpdates") != [], timeout=10)
    assert (await _webhook_info(tg))["url"] == ""
    tg.user_message(42, "via polling")
    assert (await tg.wait_sent(2, chat_id=42, timeout=10))[-1]["text"] == "echo: via polling"


async def test_update_accepted_before_sigkill_is_answered_once(
    gateway_factory: GatewayFactory,
    tg: FakeTelegram,
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.latency = 30.0
    gw = await gateway_factory(telegram(tg))
    tg.user_message(42, "survive")
    assert await wait_until(lambda: bool(fake_llm.requests), timeout=10)
    await gw.kill()
    fake_llm.latency = 0.0
    await gw.start()
    (sent,) = await tg.wait_sent(1, chat_id=42, timeout=10)
    assert sent["text"] == "echo: survive"
    await asyncio.sleep(1.5)  # a redelivered update would have been answered by now
    assert len(tg.sent_to(42)) == 1


async def _webhook_info(tg: FakeTelegram) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{tg.bot_url}/getWebhookInfo") as response,
    ):
        result: dict[str, Any] = (await response.json())["result"]
        return result


async def test_streamed_draft_becomes_the_answer(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    fake_llm.chunk_delay = 0.04
    answer = " ".join(f"word{n}" for n in range(60)) + " **done**"
    fake_llm.reply = lambda body: answer
    await gateway_factory(telegram(tg, stream=True, stream_interval=1))
    tg.user_message(42, "stream it")
    await tg.wait_for(lambda: tg.texts(42) and tg.texts(42)[-1].endswith("done"), timeout=15)
    assert tg.texts(42) == [answer.replace("**", "")]  # one message: the draft, finished
    assert len(tg.sent_to(42)) == 1 and tg.edits
    final = tg.message(42, tg.sent_to(42)[0]["message_id"])
    assert final is not None and {e["type"] for e in final["entities"]} == {"bold"}


async def test_group_migration_is_followed(
    gateway_factory: GatewayFactory, tg: FakeTelegram
) -> None:
    await gateway_factory(telegram(tg))
    old, new = -4001, -1009876543210
    tg.migrated_chats[old] = new
    tg.user_message(
        new, "hello from the new supergroup", chat_type="supergroup", entities=[]
    )  # makes the supergroup known to the fake
    tg.user_message(old, "@gw_test_bot before the upgrade", chat_type="group")
    (sent,) = await tg.wait_sent(1, chat_id=new, timeout=10)
    assert sent["text"] == "echo: before the upgrade"


async def test_redelivered_update_is_answered_once(
    gateway_factory: GatewayFactory, tg: FakeTelegram
) -> None:
    port = free_port()
    gw = await gateway_factory(
        {
            **telegram(tg, mode="webhook", webhook_secret=SECRET),
            "server": {"port": port, "public_url": f"http://127.0.0.1:{port}"},
        }
    )
    update = tg.user_message(42, "only once")
    await tg.wait_sent(1, chat_id=42, timeout=10)
    async with aiohttp.ClientSession() as http:
        for _ in range(2):  # Telegram re-sends when it did not see our 200 in time
            async with http.post(
                f"{gw.url}/telegram/webhook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
            ) as r:
                assert r.status == 200
    await asyncio.sleep(1.0)
    assert len(tg.sent_to(42)) == 1


async def test_doctor_checks_the_token_with_get_me(tg: FakeTelegram) -> None:
    good = TelegramChannelConfig(bot_token=TOKEN, api_base=tg.base_url)
    wrong = TelegramChannelConfig(bot_token="123456:WRONG-TOKEN", api_base=tg.base_url)

    [ok] = await telegram_checks(good, "en")
    [bad] = await telegram_checks(wrong, "en")

    assert (ok.status, ok.detail) == ("ok", "bot @gw_test_bot (polling mode)")
    assert bad.status == "fail" and "@BotFather" in bad.fix, bad


async def test_doctor_rows_read_in_chinese(tg: FakeTelegram) -> None:
    good = TelegramChannelConfig(bot_token=TOKEN, api_base=tg.base_url)
    wrong = TelegramChannelConfig(bot_token="123456:WRONG-TOKEN", api_base=tg.base_url)

    [ok] = await telegram_checks(good, "zh-CN")
    [bad] = await telegram_checks(wrong, "zh-CN")

    assert (ok.name, ok.status, ok.detail) == (
        "Telegram",
        "ok",
        "机器人 @gw_test_bot（polling 模式）",
    )
    assert bad.status == "fail" and bad.detail.startswith("getMe 调用失败："), bad
    assert bad.fix == "请向 @BotFather 重新获取机器人令牌，并在 .env 中设置 TELEGRAM_BOT_TOKEN"
