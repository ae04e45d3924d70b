"""Sending through session webhooks and the robot OpenAPI, and the HTTP-mode route."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibot.channels.base import Clock
from aibot.channels.dingtalk.channel import DingtalkChannel
from aibot.channels.dingtalk.format import PART_LIMIT
from aibot.channels.dingtalk.inbound import read_message
from aibot.channels.dingtalk.verify import sign
from aibot.config import DingtalkChannelConfig
from aibot.core.errors import SendError
from aibot.core.messages import Inbound, Outbound
from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingtalk
from tests.support.channel_context import bare_context
from tests.support.clock import FakeClock


class _Inbox:
    def __init__(self) -> None:
        self.accepted: list[Inbound] = []

    async def accept(self, inbound: Inbound) -> bool:
        self.accepted.append(inbound)
        return True


def make_channel(api_base: str, **extra: Any) -> tuple[DingtalkChannel, _Inbox]:
    inbox = _Inbox()
    config = DingtalkChannelConfig(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, api_base=api_base, **extra
    )
    context = bare_context(inbox)
    return DingtalkChannel(config, context), inbox


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk() as fake:
        yield fake


@pytest.fixture
async def channel(fake: FakeDingtalk) -> AsyncIterator[DingtalkChannel]:
    channel, _ = make_channel(fake.base_url)
    yield channel
    await channel.close()


def reply(data: dict[str, Any], text: str, outbox_id: int = 1) -> Outbound:
    inbound = read_message(data)
    assert inbound is not None
    return Outbound(
        "dingtalk", inbound.session_key, text, inbound.target, time.time(), outbox_id=outbox_id
    )


async def test_session_webhook_while_valid(fake: FakeDingtalk) -> None:
    channel, _ = make_channel(fake.base_url, reply_format="text")
    try:
        data = fake.message("hi", group=True)
        await channel.send(reply(data, "pong"))
    finally:
        await channel.close()
    [sent] = fake.sent
    assert (sent.via, sent.to, sent.msgtype, sent.text, sent.at) == (
        "webhook",
        data["conversationId"],
        "text",
        "pong",
        ["manager123"],
    )
    assert fake.token_requests == 0  # no token needed for a session webhook


async def test_expired_webhook_falls_back_to_the_robot_api(
    fake: FakeDingtalk, channel: DingtalkChannel
) -> None:
    group = fake.message("q", group=True, webhook_ttl=-1)
    private = fake.message("q", staff="staff7", webhook_ttl=10)  # expires within the margin
    await channel.send(reply(group, "**for the group**"))
    await channel.send(reply(private, "for you", outbox_id=2))
    assert [(s.via, s.to, s.msgtype, s.text, s.title) for s in fake.sent] == [
        ("group", group["conversationId"], "sampleMarkdown", "**for the group**", "for the group"),
        ("private", "staff7", "sampleMarkdown", "for you", "for you"),
    ]
    assert fake.token_requests == 1  # cached


async def test_refused_token_is_renewed_once(fake: FakeDingtalk, channel: DingtalkChannel) -> None:
    data = fake.message("q", group=True, webhook_ttl=-1)
    await channel.send(reply(data, "one"))
    fake.revoke_tokens()
    await channel.send(reply(data, "two", outbox_id=2))
    assert [s.text for s in fake.sent] == ["one", "two"] and fake.token_requests == 2


async def test_a_webhook_refusal_sends_through_the_api(
    fake: FakeDingtalk, channel: DingtalkChannel
) -> None:
    data = fake.message("q", staff="staff8")
    fake.fail_next("sendBySession", 200, {"errcode": 300001, "errmsg": "expired"})
    await channel.send(reply(data, "answer"))
    assert [(s.via, s.to) for s in fake.sent] == [("private", "staff8")]


async def test_throttling_asks_the_outbox_to_wait(
    fake: FakeDingtalk, channel: DingtalkChannel
) -> None:
    data = fake.message("q")
    fake.fail_next(
        "sendBySession",
        200,
        {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
    )
    with pytest.raises(SendError) as webhook:
        await channel.send(reply(data, "answer"))
    assert webhook.value.retry_after == 60 and not webhook.value.permanent

    expired = fake.message("q", group=True, webhook_ttl=-1)
    fake.fail_next(
        "groupMessages/send",
        403,
        {"code": "Forbidden.AccessDenied.QpsLimitForApi", "message": "qps limit"},
    )
    with pytest.raises(SendError) as api:
        await channel.send(reply(expired, "answer", outbox_id=2))
    assert api.value.retry_after == 60 and not api.value.permanent
    fake.fail_next("groupMessages/send", 503, {"code": "ServiceUnavailable", "message": "busy"})
    with pytest.raises(SendError) as unavailable:
        await channel.send(reply(expired, "answer", outbox_id=3))
    assert not unavailable.value.permanent
    assert fake.sent == []


async def test_final_refusals_are_permanent(fake: FakeDingtalk) -> None:
    channel, _ = make_channel(fake.base_url, robot_code="dingnotmyrobot")
    try:
        with pytest.raises(SendError) as wrong_robot:
            await channel.send(reply(fake.message("q", group=True, webhook_ttl=-1), "x"))
        assert wrong_robot.value.permanent and "robotCode" in str(wrong_robot.value)
        with pytest.raises(SendError) as external:
            await channel.send(reply(fake.message("q", staff=None, webhook_ttl=-1), "x"))
        assert external.value.permanent and "staff id" in str(external.value)
    finally:
        await channel.close()


async def test_long_answers_are_split_and_not_repeated_on_retry(
    fake: FakeDingtalk,
    channel: DingtalkChannel,
) -> None:
    data = fake.message("q")
    answer = "\n\n".join(f"第{n}段。" + "中文内容" * 150 for n in range(15))
    fake.fail_next("sendBySession", 200, {"errcode": 130101, "errmsg": "send too fast"}, after=1)
    outbound = reply(data, answer)
    with pytest.raises(SendError):
        await channel.send(outbound)
    assert len(fake.sent) == 1
    await channel.send(outbound)
    parts = [s.text for s in fake.sent]
    assert len(parts) == len(set(parts)) > 2
    assert all(len(p) <= PART_LIMIT for p in parts)
    assert "".join(parts).replace("\n", "") == answer.replace("\n", "")


# -- HTTP mode --------------------------------------------------------------------------------
def http_app() -> tuple[TestClient, _Inbox]:
    channel, inbox = make_channel("http://127.0.0.1:9", mode="http")
    app = FastAPI()
    router = channel.router()
    assert router is not None
    app.include_router(router)
    return TestClient(app), inbox


def signed(timestamp: str | None = None, secret: str = CLIENT_SECRET) -> dict[str, str]:
    timestamp = timestamp or str(int(time.time() * 1000))
    return {"timestamp": timestamp, "sign": sign(timestamp, secret)}


def test_http_mode_verifies_the_signature() -> None:
    client, inbox = http_app()
    with client:
        fake_data = FakeDingtalk().message("hello http")
        assert client.post("/dingtalk/webhook", json=fake_data, headers=signed()).status_code == 200
        stale = str(int(time.time() * 1000) - 3_700_000)
        for headers in ({}, signed(secret="wrong"), signed(stale), {**signed(), "sign": "x" * 44}):
            assert (
                client.post("/dingtalk/webhook", json=fake_data, headers=headers).status_code == 401
            )
        assert (
            client.post("/dingtalk/webhook", content=b"{not json", headers=signed()).status_code
            == 400
        )
        assert client.post("/dingtalk/webhook", json=[1], headers=signed()).status_code == 400
    assert [i.text for i in inbox.accepted] == ["hello http"]
    assert make_channel("http://127.0.0.1:9")[0].router() is None  # stream mode: no route


def test_the_signature_window_follows_the_injected_clock() -> None:
    """Vector D1's timestamp is years old by the system clock, fresh by the channel's."""
    vector = {"timestamp": "1700000000000", "sign": "dhJB8TJ0cHPEbwpUauugV2Wz8v4qlWoO+C42nEhJW+c="}
    data = FakeDingtalk().message("from 2023")
    for clock, status in ((None, 401), (Clock(now=FakeClock(1_700_000_030.0)), 200)):
        inbox = _Inbox()
        config = DingtalkChannelConfig(
            client_id=CLIENT_ID,
            client_secret="test-app-secret",
            api_base="http://127.0.0.1:9",
            mode="http",
        )
        channel = DingtalkChannel(config, bare_context(inbox, clock=clock))
        app = FastAPI()
        router = channel.router()
        assert router is not None
        app.include_router(router)
        with TestClient(app) as client:
            assert client.post("/dingtalk/webhook", json=data, headers=vector).status_code == status
    assert [(i.text, i.received_at) for i in inbox.accepted] == [("from 2023", 1_700_000_030.0)]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_header_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)
_robot_keys = st.fixed_dictionaries(
    {},
    optional={
        "msgId": st.text(max_size=10) | st.integers(),
        "conversationId": st.text(max_size=10),
        "conversationType": st.sampled_from(["1", "2", "3", 2]),
        "msgtype": st.text(max_size=8),
        "text": _json,
        "content": _json,
        "isInAtList": _json,
        "senderStaffId": _json,
        "sessionWebhookExpiredTime": _json,
        "sessionWebhook": _json,
    },
)


FUZZ_APP = http_app()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=200)
    | _json.map(json.dumps).map(str.encode)
    | _robot_keys.map(json.dumps).map(str.encode),
    timestamp=_header_text | st.just("now"),
    good_sign=st.booleans(),
    sign_text=_header_text,
)
def test_http_route_fuzz(body: bytes, timestamp: str, good_sign: bool, sign_text: str) -> None:
    """Never a 5xx; nothing is accepted without a valid signature."""
    client, inbox = FUZZ_APP
    if timestamp == "now":
        timestamp = str(int(time.time() * 1000))
    headers = {
        b"timestamp": timestamp.encode(),
        b"sign": (sign(timestamp, CLIENT_SECRET) if good_sign else sign_text).encode(),
    }
    before = len(inbox.accepted)
    status = client.post("/dingtalk/webhook", content=body, headers=headers).status_code
    assert status < 500
    valid = good_sign and timestamp.isdigit()
    if not valid:
        assert status == 401 and len(inbox.accepted) == before


def test_config_defaults_and_masking() -> None:
    config = DingtalkChannelConfig.model_validate(
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "keepalive": "30s"}
    )
    assert (config.mode, config.reply_format, config.robot, config.keepalive) == (
        "stream",
        "markdown",
        CLIENT_ID,
        30.0,
    )
    assert config.secret_values() == [CLIENT_SECRET]
    assert config.public_url_problem() is None  # HTTP mode's URL is typed into the console
    assert (
        DingtalkChannelConfig(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, robot_code="dingother"
        ).robot
        == "dingother"
    )
