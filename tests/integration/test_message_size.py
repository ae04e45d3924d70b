"""One message-size limit (`server.max_message_chars`) on every channel of a real gateway.

A message one character over the limit is refused with a reply that says so, on every channel;
nothing of it reaches the model or the conversation's memory, and the inbox keeps at most
`limit + 1` characters of it (enough to know it was too long)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingtalk
from tests.fakes.feishu_api import FakeFeishu
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWecom
from tests.support.gateway import API_KEY, GatewayFactory, rows
from tests.support.net import free_port

LIMIT = 300
TOO_LONG = "长" * (LIMIT + 1)
HEADERS = {"Authorization": f"Bearer {API_KEY}"}
TG_TOKEN = "123456:TEST-TOKEN"
LARK_KEY = "encrypt-key-xyz"


def refused(text: str) -> bool:
    """The refusal, in Chinese by default or English where the platform says the user reads it
    (Telegram's language_code)."""
    return ("消息太长" in text or "message is too long" in text) and str(LIMIT) in text


@pytest.fixture
async def platforms() -> AsyncIterator[tuple[FakeTelegram, FakeFeishu, FakeWecom, FakeDingtalk]]:
    async with (
        FakeTelegram(token=TG_TOKEN, username="gw_test_bot") as tg,
        FakeFeishu(encrypt_key=LARK_KEY) as lark,
        FakeWecom() as wecom,
        FakeDingtalk(ack_timeout=1.0, disconnect_grace=0.5) as ding,
    ):
        yield tg, lark, wecom, ding


async def test_platform_channels_refuse_a_message_over_the_limit(
    gateway_factory: GatewayFactory,
    fake_llm: FakeOpenAI,
    platforms: tuple[FakeTelegram, FakeFeishu, FakeWecom, FakeDingtalk],
) -> None:
    tg, lark, wecom, ding = platforms
    port = free_port()
    lark.webhook_url = f"http://127.0.0.1:{port}/feishu/webhook"
    gw = await gateway_factory(
        {
            "server": {"port": port, "max_message_chars": LIMIT},
            "channels": {
                "telegram": {"bot_token": TG_TOKEN, "api_base": tg.base_url, "poll_timeout": 1},
                "feishu": {
                    "app_id": lark.app_id,
                    "app_secret": lark.app_secret,
                    "verification_token": lark.verification_token,
                    "encrypt_key": LARK_KEY,
                    "api_base": lark.base_url,
                },
                "wecom": {
                    "corp_id": CORP_ID,
                    "agent_id": AGENT_ID,
                    "secret": SECRET,
                    "token": TOKEN,
                    "encoding_aes_key": AES_KEY,
                    "api_base": wecom.base_url,
                },
                "dingtalk": {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "api_base": ding.base_url,
                },
            },
        }
    )
    tg.user_message(42, TOO_LONG)
    (sent,) = await tg.wait_sent(1, chat_id=42, timeout=15)
    assert refused(sent["text"]), sent

    lark.user_message("oc_dm1", TOO_LONG)
    (text,) = await lark.wait_texts("oc_dm1", timeout=15)
    assert refused(text), text

    await wecom.push(f"{gw.url}/wecom/webhook", wecom.text_xml("zhangsan", TOO_LONG))
    (answer,) = await wecom.wait_sent(1, "zhangsan")
    assert refused(answer.content), answer

    await ding.wait_for(lambda: len(ding.live) == 1)
    ding.say(TOO_LONG)
    await ding.wait_for(lambda: len(ding.sent) == 1)
    assert refused(ding.sent[0].text), ding.sent

    assert fake_llm.requests == []
    stored = rows(gw, "select channel, length(text) from inbox order by channel")
    assert stored == [(c, LIMIT + 1) for c in ("dingtalk", "feishu", "telegram", "wecom")]
    assert rows(gw, "select count(*) from turns") == [(0,)]


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    async with CallbackReceiver() as callback:
        yield callback


async def test_http_channels_refuse_a_message_over_the_limit(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI, receiver: CallbackReceiver
) -> None:
    gw = await gateway_factory(
        {
            "server": {"max_message_chars": LIMIT},
            "channels": {"webhook": {"callback_url": receiver.url}},
        }
    )
    async with aiohttp.ClientSession(headers=HEADERS) as http:
        chat = {"session_id": "s1", "message": TOO_LONG}
        async with http.post(f"{gw.url}/api/v1/chat", json=chat) as response:
            body: dict[str, Any] = await response.json()
        assert response.status == 413 and body["error"]["code"] == "message_too_long"
        assert str(LIMIT) in body["error"]["message"]

        message = {"message_id": "m1", "session_id": "s1", "message": TOO_LONG}
        async with http.post(f"{gw.url}/api/v1/messages", json=message) as response:
            body = await response.json()
        assert response.status == 413 and body["error"]["code"] == "message_too_long"

        async with http.ws_connect(f"{gw.url.replace('http', 'ws')}/ws") as ws:
            await ws.send_json({"type": "hello", "session_id": None, "key": API_KEY})
            assert (await ws.receive_json(timeout=10))["type"] == "ready"
            await ws.send_json({"type": "message", "id": "w1", "text": TOO_LONG})
            frame = await ws.receive_json(timeout=10)
        assert frame["type"] == "error" and refused(frame["message"]), frame

    # /v1: every message of the body counts, not only the last; OpenAI's error, its SDK's class.
    client = openai.AsyncOpenAI(api_key=API_KEY, base_url=f"{gw.url}/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="fake",
            messages=[
                {"role": "system", "content": TOO_LONG},
                {"role": "user", "content": "short"},
            ],
        )
    await client.close()
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["code"] == "string_above_max_length" and error["param"] == "messages[0].content"

    await asyncio.sleep(0.3)
    assert fake_llm.requests == [] and receiver.attempts == []
    assert rows(gw, "select count(*) from inbox") == [(0,)]
    assert rows(gw, "select count(*) from turns") == [(0,)]
