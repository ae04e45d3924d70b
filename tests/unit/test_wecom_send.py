"""The WeCom client and the channel's sending, over real sockets against the fake WeCom API.

A shared fake clock drives token expiry and the per-member limit on both sides, so "a minute
later" takes no time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from aibot.channels.base import Clock as ChannelClock
from aibot.channels.errors import PlatformError
from aibot.channels.wecom.channel import WecomChannel
from aibot.channels.wecom.client import WecomApi
from aibot.channels.wecom.inbound import WecomReply
from aibot.channels.wecom.verify import parse_xml
from aibot.config import WecomChannelConfig
from aibot.core.errors import SendError
from aibot.core.messages import Outbound
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWecom
from tests.support.channel_context import bare_context
from tests.support.clock import FakeClock
from tests.support.waiting import wait_until


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(5000.0)


@pytest.fixture
async def wecom(clock: FakeClock) -> AsyncIterator[FakeWecom]:
    async with FakeWecom(clock=clock) as fake:
        yield fake


def section(wecom: FakeWecom, **extra: Any) -> WecomChannelConfig:
    return WecomChannelConfig.model_validate(
        {
            "corp_id": CORP_ID,
            "agent_id": AGENT_ID,
            "secret": SECRET,
            "token": TOKEN,
            "encoding_aes_key": AES_KEY,
            "api_base": wecom.base_url,
            **extra,
        }
    )


@pytest.fixture
async def channel(wecom: FakeWecom, clock: FakeClock) -> AsyncIterator[WecomChannel]:
    made = make_channel(wecom, clock)
    yield made
    await made.close()


def make_channel(wecom: FakeWecom, clock: FakeClock, **extra: Any) -> WecomChannel:
    # Sending never touches the inbox.
    context = bare_context(clock=ChannelClock(monotonic=clock))
    return WecomChannel(section(wecom, **extra), context)


def reply(text: str, user: str = "zhangsan", outbox_id: int = 1) -> Outbound:
    return Outbound(
        "wecom",
        f"wecom:{AGENT_ID}:{user}",
        text,
        WecomReply(user).target(),
        0.0,
        outbox_id=outbox_id,
    )


async def test_token_is_cached_refreshed_early_and_refetched_when_refused(
    wecom: FakeWecom,
    clock: FakeClock,
) -> None:
    api = WecomApi(CORP_ID, SECRET, wecom.base_url, clock=clock)
    try:
        body = {
            "touser": "zhangsan",
            "msgtype": "text",
            "agentid": AGENT_ID,
            "text": {"content": "hi"},
        }
        await api.send(body)
        await api.send(body)
        assert wecom.token_requests == 1
        clock.now += 7200 - 299  # inside the 5-minute margin: fetched anew before it expires
        await api.send(body)
        assert wecom.token_requests == 2 and wecom.errcodes("message/send") == [0, 0, 0]

        wecom.expire_tokens()
        await api.send(body)
        wecom.revoke_tokens()
        await api.send(body)
        assert wecom.errcodes("message/send")[3:] == [42001, 0, 40014, 0]
        assert wecom.token_requests == 4

        wecom.script(40014)  # refused again right after a fresh token: give up, once
        wecom.revoke_tokens()
        with pytest.raises(PlatformError) as caught:
            await api.send(body)
        assert caught.value.code == 40014
    finally:
        await api.close()


@pytest.mark.parametrize(
    ("corp", "secret", "code"),
    [
        ("wwWRONG", SECRET, 40013),
        (CORP_ID, "short", 40091),
        (CORP_ID, SECRET[:-1] + "x", 40001),
    ],
)
async def test_gettoken_errors(wecom: FakeWecom, corp: str, secret: str, code: int) -> None:
    api = WecomApi(corp, secret, wecom.base_url)
    try:
        with pytest.raises(PlatformError) as caught:
            await api.token()
        assert caught.value.code == code
        assert secret not in str(caught.value)
    finally:
        await api.close()


async def test_long_answers_are_split_under_2048_bytes(
    wecom: FakeWecom, channel: WecomChannel
) -> None:
    answer = "\n\n".join(f"第{n}段：" + "中文内容" * 60 for n in range(8))
    await channel.send(reply(answer))
    parts = wecom.sent_to("zhangsan")
    assert len(parts) > 1 and not any(p.truncated for p in parts)
    assert all(len(p.content.encode()) <= 2048 and p.msgtype == "text" for p in parts)
    assert "".join(p.content for p in parts) == answer


async def test_markdown_format(wecom: FakeWecom, clock: FakeClock) -> None:
    channel = make_channel(wecom, clock, reply_format="markdown")
    await channel.send(reply("**bold**"))
    await channel.close()
    assert (wecom.sent[0].msgtype, wecom.sent[0].content) == ("markdown", "**bold**")


async def test_member_limit_queues_instead_of_losing(
    wecom: FakeWecom, channel: WecomChannel, clock: FakeClock
) -> None:
    for n in range(30):
        await channel.send(reply(f"answer {n}", outbox_id=n))
        clock.now += 1
    with pytest.raises(SendError) as caught:
        await channel.send(reply("answer 30", outbox_id=30))
    assert not caught.value.permanent
    assert caught.value.retry_after == pytest.approx(30.0)
    await channel.send(reply("to someone else", user="lisi", outbox_id=99))
    clock.now += caught.value.retry_after or 0
    await channel.send(reply("answer 30", outbox_id=30))
    assert [s.content for s in wecom.sent_to("zhangsan")][-1] == "answer 30"
    assert wecom.dropped == []  # WeCom would have dropped the 31st silently


async def test_a_retried_reply_does_not_repeat_delivered_parts(
    wecom: FakeWecom, channel: WecomChannel
) -> None:
    answer = "\n\n".join(["甲" * 600, "乙" * 600, "丙" * 600])  # three parts
    wecom.script(0, -1)  # the second part meets "system busy"
    with pytest.raises(SendError) as caught:
        await channel.send(reply(answer, outbox_id=7))
    assert not caught.value.permanent and caught.value.retry_after is None
    await channel.send(reply(answer, outbox_id=7))
    assert [p.content[0] for p in wecom.sent_to("zhangsan")] == ["甲", "乙", "丙"]


@pytest.mark.parametrize(
    ("code", "permanent", "retry_after", "status_says"),
    [
        (45009, False, 42.0, None),
        (45033, False, 42.0, None),
        (60020, False, None, "企业可信IP"),
        (40014, False, None, None),  # refused again after a refetch: try later
        (301002, True, None, "agent_id"),
        (48002, True, None, None),
    ],
)
async def test_send_errors_map_to_retry_or_dead_letter(
    wecom: FakeWecom,
    clock: FakeClock,
    code: int,
    permanent: bool,
    retry_after: float | None,
    status_says: str | None,
) -> None:
    channel = make_channel(wecom, clock, rate_limit_wait="42s")
    wecom.script(code, code)
    with pytest.raises(SendError) as caught:
        await channel.send(reply("hello"))
    await channel.close()
    assert (caught.value.permanent, caught.value.retry_after) == (permanent, retry_after)
    error = channel.status("en")["error"]
    if status_says:
        assert status_says in error
    else:
        assert error is None


async def test_the_status_speaks_the_readers_language(wecom: FakeWecom, clock: FakeClock) -> None:
    channel = make_channel(wecom, clock)
    wecom.script(301002, 301002)
    with pytest.raises(SendError):
        await channel.send(reply("hello"))
    await channel.close()
    english, chinese = channel.status("en")["error"], channel.status("zh-CN")["error"]
    assert english.endswith(
        "(channels.wecom.agent_id is not the app of this secret: copy AgentId from the "
        "same app's page)"
    ), english
    assert chinese.endswith(
        "（channels.wecom.agent_id 和这个 Secret 不属于同一个应用："
        "请在同一个应用的详情页复制 AgentId）"
    ), chinese


async def test_unknown_member_is_dead_lettered(wecom: FakeWecom, channel: WecomChannel) -> None:
    with pytest.raises(SendError) as caught:
        await channel.send(reply("hi", user="nobody"))
    assert caught.value.permanent and "81013" in str(caught.value)


async def test_non_text_messages_get_one_notice(wecom: FakeWecom, channel: WecomChannel) -> None:
    video = parse_xml(wecom.image_xml("lisi", msg_id=77).replace("[image]", "[video]"))
    await channel.receive(video)
    await channel.receive(video)  # WeCom's re-delivery
    await channel.receive(parse_xml(wecom.event_xml("lisi", "click")))  # a menu click: ignored
    assert await wait_until(lambda: len(wecom.sent) == 1)
    await asyncio.sleep(0.2)
    # The notice in the configured default language (zh-CN unless ui says otherwise).
    assert [sent.content for sent in wecom.sent] == ["暂不支持这类消息。"]
