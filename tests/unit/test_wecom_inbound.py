"""WeCom message parsing, the UTF-8 splitter, the per-member limiter and the config checks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from aibot.channels.wecom.client import MemberLimiter
from aibot.channels.wecom.format import MAX_BYTES, split_utf8
from aibot.channels.wecom.inbound import Notice, dedupe_key, read_message
from aibot.channels.wecom.verify import Rejected, parse_xml, query_params
from aibot.config import WecomChannelConfig
from aibot.config.refusals import refusal
from aibot.core.events import PlatformEvent
from aibot.core.messages import Inbound
from tests.fakes.wecom_api import FakeWecom
from tests.support.clock import FakeClock

fake = FakeWecom()


def test_text_message_becomes_an_inbound_keyed_on_msg_id() -> None:
    xml = fake.text_xml("zhangsan", "  你好 <b>&amp; ]] ", msg_id=7300000000000000001)
    item = read_message(parse_xml(xml), fake.agent_id)
    assert isinstance(item, Inbound)
    assert item.text == "你好 <b>&amp; ]]"  # CDATA: taken literally
    assert item.message_id == "1000002:7300000000000000001"  # 64-bit id kept exact
    assert (item.session_key, item.user_id, item.target.to_json()) == (
        "wecom:1000002:zhangsan",
        "zhangsan",
        {"touser": "zhangsan", "chat_id": "zhangsan"},
    )


def test_non_text_gets_a_notice_and_events_become_platform_events() -> None:
    agent = fake.agent_id
    image = read_message(parse_xml(fake.image_xml("lisi", msg_id=42)), agent)
    assert isinstance(image, Inbound) and [a.kind for a in image.attachments] == ["image"]
    video = fake.image_xml("lisi", msg_id=43).replace("[image]", "[video]")
    assert read_message(parse_xml(video), agent) == Notice("lisi", f"{agent}:43")  # not read
    entered = read_message(parse_xml(fake.event_xml("lisi")), agent)
    assert isinstance(entered, PlatformEvent)
    assert (entered.kind, entered.event_id, entered.target.to_json()) == (
        "user_entered",
        f"enter_agent:{agent}:lisi",
        {"touser": "lisi", "chat_id": "lisi"},
    )
    assert read_message(parse_xml(fake.event_xml("lisi", "click")), agent) is None  # a menu
    other_app = fake.event_xml("lisi").replace(
        f"<AgentID>{agent}</AgentID>", "<AgentID>999</AgentID>"
    )
    assert read_message(parse_xml(other_app), agent) is None
    assert read_message(parse_xml(fake.text_xml("lisi", "   ")), agent) is None
    assert read_message(parse_xml("<xml><MsgType>text</MsgType></xml>"), 7) is None


def test_another_apps_messages_are_not_answered() -> None:
    xml = fake.text_xml("lisi", "for the other app")
    assert read_message(parse_xml(xml), fake.agent_id + 1) is None
    assert isinstance(read_message(parse_xml(xml), fake.agent_id), Inbound)


def test_dedupe_key_is_msg_id_or_sender_and_time() -> None:
    assert dedupe_key(parse_xml(fake.text_xml("u", "x", msg_id=5))) == "5"
    event = parse_xml(fake.event_xml("u", create_time=1409659813))
    assert dedupe_key(event) == "u:1409659813"


@pytest.mark.parametrize(
    "xml",
    [
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        '"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><Encrypt>&lol2;</Encrypt></xml>',
        '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
        "<!DOCTYPE xml><xml/>",
        "<xml><Encrypt>unclosed",
        "",
        "\x00",
    ],
)
def test_dangerous_or_broken_xml_is_refused(xml: str) -> None:
    with pytest.raises(Rejected) as caught:
        parse_xml(xml)
    assert caught.value.status == 400


def test_query_params_keep_plus_and_decode_percent() -> None:
    raw = b"echostr=a+b%2Bc%3D%3D&nonce=1&nonce=2&timestamp=%E4%BD%A0&x"
    assert query_params(raw) == {"echostr": "a+b+c==", "nonce": "1", "timestamp": "你", "x": ""}


def fits(part: str) -> bool:
    return len(part.encode()) <= MAX_BYTES


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(["a", " ", "\n", "中", "😀", "é", "。", "."]), max_size=6000)
)
def test_split_never_exceeds_the_limit_and_loses_nothing(text: str) -> None:
    parts = split_utf8(text)
    assert all(fits(p) for p in parts)
    assert all(p.strip() for p in parts)
    joined = "".join(parts)
    assert joined.split() == text.split()  # only whitespace-only parts are left out


def test_split_prefers_paragraphs_then_lines() -> None:
    paragraph = "第一段" + "中" * 400  # 1209 bytes
    parts = split_utf8(paragraph + "\n\n" + paragraph + "\n\n" + paragraph)
    assert parts == [paragraph + "\n\n", paragraph + "\n\n", paragraph]
    lines = "\n".join("行" * 100 for _ in range(10))  # 300 bytes a line
    assert all(p.endswith("\n") for p in split_utf8(lines)[:-1])
    emoji = "😀" * 1000  # 4000 bytes with no break: cut between characters
    assert split_utf8(emoji) == ["😀" * 512, "😀" * 488]


def test_short_text_is_one_part() -> None:
    assert split_utf8("hello") == ["hello"]
    assert split_utf8("x" * MAX_BYTES) == ["x" * MAX_BYTES]


def test_member_limiter_slides_per_minute_and_per_hour() -> None:
    clock = FakeClock()
    limiter = MemberLimiter(clock=clock)
    for _ in range(30):
        assert limiter.wait("u") == 0
        limiter.record("u")
        clock.now += 1
    assert limiter.wait("u") == pytest.approx(30.0)  # the first send leaves at 1060
    assert limiter.wait("other") == 0
    clock.now += 30
    assert limiter.wait("u") == 0
    for _ in range(970):
        clock.now += 60 / 29  # just under 30 a minute
        limiter.record("u")
    assert limiter.wait("u") > 60  # the hourly 1000 now binds


def config(**extra: Any) -> WecomChannelConfig:
    values: dict[str, Any] = {
        "corp_id": "ww1",
        "agent_id": 1,
        "secret": "s",
        "token": "t",
        "encoding_aes_key": "a" * 43,
    }
    return WecomChannelConfig.model_validate({**values, **extra})


@pytest.mark.parametrize("key", ["a" * 42, "a" * 44, "a" * 42 + "=", "a" * 42 + "+", "中" * 43])
def test_config_refuses_a_bad_encoding_aes_key(key: str) -> None:
    with pytest.raises(ValidationError) as caught:
        config(encoding_aes_key=key)
    shown = str(refusal(caught.value, "config.yaml", {}))  # what the user reads
    assert "encoding_aes_key must be the 43 letters and digits" in shown
    assert key not in shown


def test_config_defaults() -> None:
    section = config(rate_limit_wait="2m")
    assert section.api_base == "https://qyapi.weixin.qq.com"
    assert (section.reply_format, section.rate_limit_wait) == ("text", 120.0)
    assert set(section.secret_values()) == {"s", "t", "a" * 43}
