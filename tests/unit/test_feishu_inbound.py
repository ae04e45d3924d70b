"""Which Feishu events become messages, with what text, session and reply target."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from aibot.channels.feishu.inbound import EventReader, FeishuReply
from aibot.config import FeishuChannelConfig
from aibot.core.messages import Inbound

BOT = "ou_bot"


def reader(**extra: Any) -> EventReader:
    return EventReader(
        FeishuChannelConfig(app_id="cli_x", app_secret="s", verification_token="t", **extra), BOT
    )


def event(
    content: Any,
    *,
    chat_type: str = "p2p",
    message_type: str = "text",
    mentions: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
    **message: Any,
) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": {"event_id": "e1", "event_type": "im.message.receive_v1"},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_ann"}, "sender_type": "user"},
            "message": {
                "message_id": "om_1",
                "chat_id": "oc_1",
                "chat_type": chat_type,
                "message_type": message_type,
                "content": orjson.dumps(content).decode(),
                "mentions": [
                    {"key": f"@_user_{n}", "id": {"open_id": oid}, "name": name}
                    for n, (oid, name) in enumerate(mentions, 1)
                ],
                **message,
            },
        },
    }


def test_private_text_becomes_an_inbound() -> None:
    inbound = reader().read(event({"text": "hello 你好"}))
    assert isinstance(inbound, Inbound)
    assert (inbound.text, inbound.message_id, inbound.session_key, inbound.user_id) == (
        "hello 你好",
        "om_1",
        "feishu:oc_1",
        "ou_ann",
    )
    assert inbound.target.to_json() == {
        "message_id": "om_1",
        "chat_id": "oc_1",
        "thread": False,
        "chat_type": "private",
    }
    assert (inbound.chat_id, inbound.chat_type) == ("oc_1", "private")


def test_group_needs_a_mention_of_the_bot_whose_placeholder_is_removed() -> None:
    text = {"text": "@_user_1 ask @_user_2 and @_user_10"}
    mentions = [(BOT, "ai-bot"), ("ou_ann", "Ann")] + [(f"ou_{n}", f"P{n}") for n in range(3, 11)]
    inbound = reader().read(event(text, chat_type="group", mentions=mentions))
    assert isinstance(inbound, Inbound) and inbound.text == "ask @Ann and @P10"
    others = [("ou_ann", "Ann")]
    assert reader().read(event({"text": "@_user_1 hi"}, chat_type="group", mentions=others)) is None
    assert (
        reader(group_trigger="always").read(
            event({"text": "@_user_1 hi"}, chat_type="group", mentions=others)
        )
        is not None
    )
    assert (
        reader(group_trigger="off").read(
            event({"text": "@_user_1 hi"}, chat_type="group", mentions=[(BOT, "b")])
        )
        is None
    )


def test_group_sessions_per_user_and_threads() -> None:
    inbound = reader(group_sessions="per_user").read(
        event({"text": "@_user_1 hi"}, chat_type="group", mentions=[(BOT, "b")], thread_id="omt_9")
    )
    assert isinstance(inbound, Inbound)
    assert inbound.session_key == "feishu:oc_1:omt_9:uou_ann"
    assert inbound.chat_type == "group"
    assert FeishuReply.of(inbound.target).thread is True


def test_post_content_is_flattened() -> None:
    post = {
        "title": "Title",
        "content": [
            [
                {"tag": "at", "user_id": "@_user_1"},
                {"tag": "text", "text": " look at "},
                {"tag": "a", "text": "this", "href": "https://x.y/z"},
                {"tag": "emotion", "emoji_type": "SMILE"},
            ],
            [{"tag": "code_block", "language": "PYTHON", "text": "print(1)"}],
        ],
    }
    inbound = reader().read(event(post, message_type="post", mentions=[(BOT, "b")]))
    assert isinstance(inbound, Inbound)
    assert inbound.text == "Title\n look at [this](https://x.y/z)\n\n```python\nprint(1)\n```"
    localized = reader().read(event({"zh_cn": post}, message_type="post"))
    assert isinstance(localized, Inbound) and localized.text.startswith("Title")


@pytest.mark.parametrize(
    "payload",
    [
        event({"text": "  "}),
        event({"file_key": "v"}, message_type="media"),  # a video: not read
        event({"text": "hi"}, chat_type="group"),
        {**event({"text": "hi"}), "header": {"event_type": "im.chat.updated_v1"}},
        {"schema": "2.0", "header": [], "event": {}},
    ],
)
def test_ignored_events(payload: dict[str, Any]) -> None:
    assert reader().read(payload) is None


def test_messages_from_apps_are_ignored() -> None:
    payload = event({"text": "hi"})
    payload["event"]["sender"]["sender_type"] = "app"
    assert reader().read(payload) is None
