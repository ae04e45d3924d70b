"""The DingTalk channel in the real gateway process against the fake DingTalk."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from aibot.channels.dingtalk.doctor import dingtalk_checks
from aibot.config import DingtalkChannelConfig
from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingtalk
from tests.fakes.openai_server import FakeOpenAI
from tests.support.gateway import GatewayFactory
from tests.support.net import free_port
from tests.support.waiting import wait_until


@pytest.fixture
async def ding() -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk(ack_timeout=1.0, disconnect_grace=0.5) as fake:
        yield fake


def dingtalk(ding: FakeDingtalk, **extra: Any) -> dict[str, Any]:
    return {
        "channels": {
            "dingtalk": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "api_base": ding.base_url,
                **extra,
            }
        },
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
    }


def last_prompt(fake: FakeOpenAI) -> str:
    return str(fake.requests[-1].json["messages"][-1]["content"])


async def connected(ding: FakeDingtalk, count: int = 1) -> None:
    await ding.wait_for(lambda: len(ding.connections) == count and len(ding.live) == 1)


async def test_private_message_is_answered_once_through_the_session_webhook(
    gateway_factory: GatewayFactory,
    ding: FakeDingtalk,
) -> None:
    await gateway_factory(dingtalk(ding))
    await connected(ding)
    data = ding.say("hello 你好")
    await ding.wait_for(lambda: len(ding.sent) == 1)
    [sent] = ding.sent
    assert (sent.via, sent.to, sent.msgtype) == ("webhook", data["conversationId"], "markdown")
    assert sent.text == "echo: hello 你好"
    assert [a.code for a in ding.acks] == [200] and ding.pending == {}

    ding.push(data)  # DingTalk delivers the same message again (a new frame, same msgId)
    await ding.wait_for(lambda: len(ding.acks) == 2)
    await asyncio.sleep(1.0)
    assert len(ding.sent) == 1


async def test_group_mention_is_trimmed_and_answered_in_the_group(
    gateway_factory: GatewayFactory,
    ding: FakeDingtalk,
    fake_llm: FakeOpenAI,
) -> None:
    await gateway_factory(dingtalk(ding, reply_format="text"))
    await connected(ding)
    ding.say("not for the bot", group=True, at=False)
    data = ding.say(" \u2005 what is up? ", group=True, staff="staff42")
    await ding.wait_for(lambda: len(ding.sent) == 1)
    [sent] = ding.sent
    assert last_prompt(fake_llm) == "what is up?" and len(fake_llm.requests) == 1
    assert (sent.to, sent.text, sent.at) == (
        data["conversationId"],
        "echo: what is up?",
        ["staff42"],
    )
    assert len(ding.acks) == 2  # the ignored message is acknowledged too


async def test_disconnect_and_network_loss_lose_nothing(
    gateway_factory: GatewayFactory, ding: FakeDingtalk
) -> None:
    await gateway_factory(dingtalk(ding))
    await connected(ding)
    ding.disconnect()
    ding.say("sent while moving", staff="u1")  # reaches the closing connection, unread
    await connected(ding, 2)
    ding.say("after the move", staff="u2")
    await ding.wait_for(lambda: len(ding.sent) == 2, timeout=10)

    ding.drop()
    ding.say("sent while the network is down", staff="u3")
    await connected(ding, 3)
    await ding.wait_for(lambda: len(ding.sent) == 3, timeout=10)
    assert sorted(s.text for s in ding.sent) == [
        "echo: after the move",
        "echo: sent while moving",
        "echo: sent while the network is down",
    ]
    assert len(set(ding.tickets)) == 3 == len({c.ticket for c in ding.connections})


async def test_expired_session_webhook_falls_back_to_the_robot_api(
    gateway_factory: GatewayFactory,
    ding: FakeDingtalk,
) -> None:
    await gateway_factory(dingtalk(ding))
    await connected(ding)
    group = ding.say("group question", group=True, webhook_ttl=-1)
    ding.say("private question", staff="staff9", webhook_ttl=-1)
    await ding.wait_for(lambda: len(ding.sent) == 2)
    assert sorted((s.via, s.to, s.msgtype, s.text) for s in ding.sent) == [
        ("group", group["conversationId"], "sampleMarkdown", "echo: group question"),
        ("private", "staff9", "sampleMarkdown", "echo: private question"),
    ]
    assert ding.token_requests == 1


async def test_message_committed_before_sigkill_is_answered_once(
    gateway_factory: GatewayFactory,
    ding: FakeDingtalk,
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.latency = 30.0
    gw = await gateway_factory(dingtalk(ding))
    await connected(ding)
    ding.say("survive")
    assert await wait_until(lambda: bool(fake_llm.requests) and bool(ding.acks), timeout=10)
    await gw.kill()
    fake_llm.latency = 0.0
    await gw.start()
    await ding.wait_for(lambda: len(ding.sent) == 1, timeout=10)
    assert ding.sent[0].text == "echo: survive"
    await asyncio.sleep(1.5)  # a second answer would have come by now
    assert len(ding.sent) == 1 and ding.redeliveries == 0


async def test_http_mode_accepts_only_signed_requests(
    gateway_factory: GatewayFactory, ding: FakeDingtalk
) -> None:
    gw = await gateway_factory({**dingtalk(ding, mode="http"), "server": {"port": free_port()}})
    url = f"{gw.url}/dingtalk/webhook"
    data = ding.message("over http")
    assert await ding.post_http(url, data, secret="not-the-secret") == 401
    assert await ding.post_http(url, data, timestamp="1700000000000") == 401
    assert await ding.post_http(url, data) == 200
    assert await ding.post_http(url, data) == 200  # a retry: accepted, not answered again
    await ding.wait_for(lambda: len(ding.sent) == 1)
    await asyncio.sleep(1.0)
    assert [s.text for s in ding.sent] == ["echo: over http"] and ding.opens == []


async def test_doctor_fetches_a_token_and_a_ticket(ding: FakeDingtalk) -> None:
    good = DingtalkChannelConfig(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_base=ding.base_url
    )
    wrong_secret = good.model_copy(update={"client_secret": SecretStr(CLIENT_SECRET[:-1] + "X")})
    wrong_id = good.model_copy(update={"client_id": "1234567890"})

    ok = await dingtalk_checks(good, "en")
    [bad_secret] = await dingtalk_checks(wrong_secret, "en")
    [bad_id] = await dingtalk_checks(wrong_id, "en")

    assert [(c.name, c.status) for c in ok] == [("dingtalk", "ok"), ("dingtalk stream", "ok")]
    assert len(ding.tickets) == 1
    assert bad_secret.status == "fail" and "invalidClientIdOrSecret" in bad_secret.detail
    assert "client_secret is probably wrong" in bad_secret.fix
    assert bad_id.status == "fail" and "does not look like a Client ID" in bad_id.fix
    assert CLIENT_SECRET not in bad_secret.detail + bad_secret.fix


async def test_doctor_rows_read_in_chinese(ding: FakeDingtalk) -> None:
    good = DingtalkChannelConfig(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_base=ding.base_url
    )
    wrong_id = good.model_copy(update={"client_id": "1234567890"})

    token, ticket = await dingtalk_checks(good, "zh-CN")
    [bad_id] = await dingtalk_checks(wrong_id, "zh-CN")

    assert [(c.name, c.status) for c in (token, ticket)] == [
        ("钉钉", "ok"),
        ("钉钉 Stream 连接", "ok"),
    ]
    assert token.detail == f"已为 {CLIENT_ID} 取得 access token（stream 模式）"
    assert ticket.detail == "已取得 Stream 连接凭证"
    assert bad_id.status == "fail" and bad_id.detail.startswith("获取 access token 被拒绝："), (
        bad_id
    )
    assert bad_id.fix == (
        "client_id '1234567890' 不像是 Client ID（应以 ding 开头）：请到「开发者后台 → 应用开发 → "
        "企业内部应用 → 你的应用 → 凭证与基础信息」复制「Client ID (原 AppKey)」，"
        "不要填 AppId、AgentId 或机器人编码"
    )
