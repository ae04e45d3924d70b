"""Platform events through the real gateway: greetings, welcomes, cleanup, re-deliveries."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.fakes.feishu_api import FakeFeishu
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWecom
from tests.support.gateway import GatewayFactory
from tests.support.net import free_port

GROUP = -1001234567890


async def test_telegram_group_events(gateway_factory: GatewayFactory, fake_llm: FakeOpenAI) -> None:
    async with FakeTelegram(token="123456:TEST-TOKEN", username="gw_test_bot") as tg:
        gw = await gateway_factory(
            {
                "channels": {
                    "telegram": {
                        "bot_token": "123456:TEST-TOKEN",
                        "api_base": tg.base_url,
                        "poll_timeout": 1,
                    }
                },
                "events": {"greeting": "Hello team!", "welcome": "Welcome, {names}!"},
            }
        )
        added = tg.bot_membership(GROUP, "member")
        (greeting,) = await tg.wait_sent(1, chat_id=GROUP, timeout=10)
        assert greeting["text"] == "Hello team!" and "reply_markup" not in greeting
        tg.push_update(added)  # a re-delivery of the same update: no second greeting
        tg.members_joined(GROUP, ["Bo", "Cy"])
        (_, welcome) = await tg.wait_sent(2, chat_id=GROUP, timeout=10)
        assert welcome["text"] == "Welcome, Bo, Cy!"

        tg.user_message(GROUP, "@gw_test_bot remember the number 7", user_id=9)
        await tg.wait_sent(3, chat_id=GROUP, timeout=10)
        tg.bot_membership(GROUP, "kicked", was="member")
        tg.bot_membership(GROUP, "member", was="kicked")
        await tg.wait_sent(4, chat_id=GROUP, timeout=10)  # greeted again when added back
        tg.user_message(GROUP, "@gw_test_bot what was the number?", user_id=9)
        await tg.wait_sent(5, chat_id=GROUP, timeout=10)
        contents = [m["content"] for m in fake_llm.requests[-1].json["messages"]]
        assert contents == ["what was the number?"]  # removal reset the group's conversation

        await asyncio.sleep(0.5)
        assert len(tg.sent_to(GROUP)) == 5
        assert gw.log().count('"kind":"bot_added"') == 2


async def test_feishu_bot_added_and_members_joining(gateway_factory: GatewayFactory) -> None:
    async with FakeFeishu(encrypt_key="k-1", verification_token="t-1", app_secret="s-1") as lark:
        port = free_port()
        lark.webhook_url = f"http://127.0.0.1:{port}/feishu/webhook"
        await gateway_factory(
            {
                "server": {"port": port},
                "channels": {
                    "feishu": {
                        "app_id": lark.app_id,
                        "app_secret": "s-1",
                        "verification_token": "t-1",
                        "encrypt_key": "k-1",
                        "api_base": lark.base_url,
                    }
                },
                "events": {"greeting": "大家好！", "welcome": "欢迎 {names}"},
            }
        )
        added = lark.envelope(
            {"chat_id": "oc_g", "operator_id": {"open_id": "ou_admin"}, "name": "Team"},
            "im.chat.member.bot.added_v1",
        )
        lark.push(added)
        assert await lark.wait_texts("oc_g", 1) == ["大家好！"]
        lark.push(added)  # the same event_id again: ignored
        lark.push(
            lark.envelope(
                {"chat_id": "oc_g", "users": [{"name": "张三", "user_id": {"open_id": "ou_z"}}]},
                "im.chat.member.user.added_v1",
            )
        )
        assert await lark.wait_texts("oc_g", 2) == ["大家好！", "欢迎 张三"]
        await asyncio.sleep(0.5)
        assert len(lark.texts("oc_g")) == 2


async def test_wecom_app_greeting_once_per_user_and_audit(gateway_factory: GatewayFactory) -> None:
    async with FakeWecom() as wecom:
        gw = await gateway_factory(
            {
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
                "events": {"app_greeting": "欢迎使用 AI 助手"},
            }
        )
        url = f"{gw.url}/wecom/webhook"
        for created in (1700000000, 1700000100):  # opened twice: greeted once
            await wecom.push(url, wecom.event_xml("lisi", create_time=created))
        change = wecom.event_xml("lisi", "change_contact").replace(
            "</Event>", "</Event><ChangeType>update_user</ChangeType><UserID>lisi</UserID>"
        )
        await wecom.push(url, change)
        (greeting,) = await wecom.wait_sent(1, "lisi")
        assert greeting.content == "欢迎使用 AI 助手"
        await asyncio.sleep(0.5)
        assert len(wecom.sent) == 1
        path = Path(gw.config["storage"]["url"].removeprefix("sqlite:///"))
        with sqlite3.connect(path) as db:
            actions = db.execute("SELECT actor, action, target FROM audit_log").fetchall()
        assert actions == [
            ("wecom", "event.user_entered", f"wecom:{AGENT_ID}:lisi lisi"),
            ("wecom", "event.contact_changed", f"wecom:{AGENT_ID} update_user lisi"),
        ]
