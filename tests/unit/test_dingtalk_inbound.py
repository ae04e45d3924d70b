"""Robot message JSON → Inbound, reply bodies, and the HTTP-mode signature (vector D1)."""

from __future__ import annotations

import json
from typing import Any

from dingtalk_stream import ChatbotMessage

from aibot.channels.dingtalk.format import robot_message, title_of, webhook_body
from aibot.channels.dingtalk.inbound import DingtalkReply, read_message
from aibot.channels.dingtalk.verify import sign, verify

NOW_MS = 1_700_000_000_000


def robot(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "conversationId": "cidTEST==",
        "conversationType": "1",
        "msgId": "msgA1",
        "senderId": "$:LWCP_v1:$abc",
        "senderStaffId": "manager123",
        "senderNick": "Ann",
        "sessionWebhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
        "sessionWebhookExpiredTime": NOW_MS + 5_400_000,
        "createAt": NOW_MS,
        "robotCode": "dingbot",
        "msgtype": "text",
        "text": {"content": "hi there"},
    }
    data.update(fields)
    return data


def test_private_message_becomes_an_inbound() -> None:
    inbound = read_message(robot())
    assert inbound is not None
    assert (inbound.channel, inbound.message_id, inbound.text) == ("dingtalk", "msgA1", "hi there")
    assert inbound.session_key == "dingtalk:cidTEST==" and inbound.user_id == "manager123"
    assert inbound.target.to_json() == {
        "chat_id": "cidTEST==",
        "chat_type": "private",
        "conversation_type": "1",
        "conversation_id": "cidTEST==",
        "staff_id": "manager123",
        "session_webhook": "https://oapi.dingtalk.com/robot/sendBySession?session=s1",
        "webhook_expires_ms": NOW_MS + 5_400_000,
    }


def test_group_mentions_are_trimmed_and_unaddressed_messages_dropped() -> None:
    mention = robot(conversationType="2", isInAtList=True, text={"content": " \u2005 hello "})
    inbound = read_message(mention)
    assert inbound is not None and inbound.text == "hello" and inbound.chat_type == "group"
    # The official SDK reads the same fields from the same JSON.
    parsed = ChatbotMessage.from_dict(mention)
    assert (parsed.conversation_type, parsed.message_id) == ("2", inbound.message_id)
    assert read_message(robot(conversationType="2", isInAtList=False)) is None
    assert read_message(robot(conversationType="2")) is not None  # isInAtList absent


def test_what_is_not_a_text_message_is_ignored() -> None:
    assert read_message(robot(msgtype="video", content={"downloadCode": "x"})) is None
    picture = read_message(robot(msgtype="picture", content={"downloadCode": "x"}))
    assert picture is not None and [a.kind for a in picture.attachments] == ["image"]
    assert read_message(robot(text={"content": "   "})) is None
    assert read_message(robot(msgId="")) is None
    assert read_message(robot(conversationType="3")) is None
    assert read_message({"msgId": 5}) is None
    rich = robot(
        msgtype="richText",
        content={"richText": [{"text": "see "}, {"downloadCode": "pic"}, {"text": "this"}]},
    )
    inbound = read_message(rich)
    assert inbound is not None and inbound.text == "see this"


def test_external_sender_without_staff_id() -> None:
    data = robot()
    del data["senderStaffId"]
    inbound = read_message(data)
    assert inbound is not None and inbound.user_id == "$:LWCP_v1:$abc"
    assert DingtalkReply.of(inbound.target).staff_id is None


def test_reply_bodies() -> None:
    assert webhook_body("pong", "text", mention="manager123") == {
        "msgtype": "text",
        "text": {"content": "pong"},
        "at": {"atUserIds": ["manager123"]},
    }
    assert webhook_body("pong", "text", mention=None) == {
        "msgtype": "text",
        "text": {"content": "pong"},
    }
    assert webhook_body("## Title\n\nbody", "markdown", mention="x") == {
        "msgtype": "markdown",
        "markdown": {"title": "Title", "text": "## Title\n\nbody"},
    }
    message = robot_message("**hi** 你好", "markdown")
    assert message["msgKey"] == "sampleMarkdown"
    assert json.loads(message["msgParam"]) == {"title": "hi 你好", "text": "**hi** 你好"}
    assert json.loads(robot_message("x", "text")["msgParam"]) == {"content": "x"}
    assert title_of("\n\n   \n") == "…" and len(title_of("长" * 100)) == 30


def test_signature_vector_d1_and_window() -> None:
    assert (
        sign("1700000000000", "test-app-secret") == "dhJB8TJ0cHPEbwpUauugV2Wz8v4qlWoO+C42nEhJW+c="
    )
    good = sign(str(NOW_MS), "s3cret")
    hour = 3_600_000
    assert verify(str(NOW_MS), good, "s3cret", now_ms=NOW_MS + hour, max_age_ms=hour)
    assert not verify(str(NOW_MS), good, "s3cret", now_ms=NOW_MS + hour + 1, max_age_ms=hour)
    assert not verify(str(NOW_MS), good, "other", now_ms=NOW_MS, max_age_ms=hour)
    assert not verify(str(NOW_MS), good[:-2], "s3cret", now_ms=NOW_MS, max_age_ms=hour)
    for bad in ("", "-1", "1e12", "١٧٠٠٠٠٠٠٠٠٠٠٠", "9" * 40):
        assert not verify(bad, sign(bad, "s3cret"), "s3cret", now_ms=NOW_MS, max_age_ms=hour)
