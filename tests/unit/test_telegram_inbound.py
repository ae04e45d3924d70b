"""Which Telegram updates reach the assistant, with which session key and prompt."""

from __future__ import annotations

from typing import Any

from aibot.channels.telegram.inbound import Notice, TelegramReply, UpdateReader
from aibot.config import TelegramChannelConfig
from aibot.core.events import PlatformEvent
from aibot.core.messages import Inbound

BOT_ID = 123456


def reader(**config: Any) -> UpdateReader:
    return UpdateReader(TelegramChannelConfig(bot_token="t", **config), BOT_ID, "gw_bot")


def update(
    text: str | None,
    *,
    chat_id: int = 42,
    chat_type: str = "private",
    user_id: int = 7,
    username: str = "ann",
    entities: list[dict[str, Any]] | None = None,
    thread: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": 9,
        "chat": {"id": chat_id, "type": chat_type},
        "from": {"id": user_id, "is_bot": False, "username": username},
        **extra,
    }
    if text is not None:
        message["text"] = text
    if entities:
        message["entities"] = entities
    if thread is not None:
        message |= {"message_thread_id": thread, "is_topic_message": True}
    return {"update_id": 1000, "message": message}


def mention(text: str, at: str = "@gw_bot") -> list[dict[str, Any]]:
    offset = len(text[: text.index(at)].encode("utf-16-le")) // 2
    return [{"type": "mention", "offset": offset, "length": len(at)}]


def test_private_text_becomes_an_inbound_keyed_per_chat() -> None:
    item = reader().read(update("hi"))
    assert isinstance(item, Inbound)
    assert (item.session_key, item.text, item.message_id) == ("telegram:42", "hi", "123456:1000")
    assert item.target.to_json() == {
        "chat_id": 42,
        "chat_type": "private",
        "thread_id": None,
        "reply_to": None,
    }


def test_group_mention_with_emoji_offsets_is_stripped() -> None:
    text = "😀 hey @gw_bot 你好"
    item = reader().read(update(text, chat_id=-100, chat_type="group", entities=mention(text)))
    assert isinstance(item, Inbound) and item.text == "😀 hey  你好"
    assert TelegramReply.of(item.target).reply_to == 9
    assert (item.chat_type, item.chat_id) == ("group", "-100")


def test_group_rules() -> None:
    plain = update("just talk", chat_id=-100, chat_type="group")
    assert reader().read(plain) is None
    assert isinstance(reader(group_trigger="always").read(plain), Inbound)
    addressed = update(
        "@gw_bot hi", chat_id=-100, chat_type="group", entities=mention("@gw_bot hi")
    )
    assert reader(group_trigger="off").read(addressed) is None
    other_bot = update(
        "/start@other_bot",
        chat_id=-100,
        chat_type="group",
        entities=[{"type": "bot_command", "offset": 0, "length": 16}],
    )
    assert reader().read(other_bot) is None
    reply = update(
        "thanks",
        chat_id=-100,
        chat_type="group",
        reply_to_message={"message_id": 3, "from": {"id": BOT_ID, "is_bot": True}},
    )
    assert isinstance(reader().read(reply), Inbound)


def test_per_user_sessions_and_topics() -> None:
    item = reader(group_sessions="per_user", group_trigger="always").read(
        update("q", chat_id=-100, chat_type="supergroup", thread=5)
    )
    assert isinstance(item, Inbound) and item.session_key == "telegram:-100:5:u7"
    assert TelegramReply.of(item.target).thread_id == 5


def test_allow_lists() -> None:
    assert reader(allowed_users=["@ann"]).read(update("hi")) is not None
    assert reader(allowed_users=["99"]).read(update("hi")) is None
    assert reader(allowed_chats=[1]).read(update("hi")) is None


def test_non_text_and_other_updates() -> None:
    photo = reader().read(update(None, photo=[{"file_id": "x"}]))
    assert isinstance(photo, Inbound)
    assert [attachment.kind for attachment in photo.attachments] == ["image"]
    assert isinstance(reader().read(update(None, video={"file_id": "v"})), Notice)  # not read
    assert reader().read({"update_id": 1, "edited_message": {"text": "x"}}) is None
    bot = update("hi")
    bot["message"]["from"]["is_bot"] = True
    assert reader().read(bot) is None


def membership(chat_id: int, chat_type: str, was: str, now: str) -> dict[str, Any]:
    bot = {"id": 123456, "is_bot": True, "first_name": "Bot"}
    return {
        "update_id": 2000,
        "my_chat_member": {
            "chat": {"id": chat_id, "type": chat_type},
            "date": 0,
            "from": {"id": 1, "is_bot": False, "first_name": "A"},
            "old_chat_member": {"user": bot, "status": was},
            "new_chat_member": {"user": bot, "status": now},
        },
    }


def test_bot_membership_changes_become_events() -> None:
    added = reader().read(membership(-100, "group", "left", "member"))
    assert isinstance(added, PlatformEvent)
    assert (added.kind, added.chat_key, added.event_id) == (
        "bot_added",
        "telegram:-100",
        "123456:2000",
    )
    removed = reader().read(membership(-100, "supergroup", "administrator", "kicked"))
    assert isinstance(removed, PlatformEvent) and removed.kind == "bot_removed"
    assert reader().read(membership(-100, "group", "member", "administrator")) is None  # promoted
    assert reader().read(membership(42, "private", "member", "kicked")) is None  # user blocked us
    assert reader(allowed_chats=[-200]).read(membership(-100, "group", "left", "member")) is None


def test_members_joining_a_group_but_not_bots() -> None:
    update: dict[str, Any] = {
        "update_id": 3000,
        "message": {
            "message_id": 5,
            "date": 0,
            "chat": {"id": -100, "type": "group"},
            "from": {"id": 7, "is_bot": False, "first_name": "Bo"},
            "new_chat_members": [
                {"id": 7, "is_bot": False, "first_name": "Bo"},
                {"id": 8, "is_bot": True, "first_name": "OtherBot"},
            ],
        },
    }
    joined = reader().read(update)
    assert isinstance(joined, PlatformEvent) and joined.names == ("Bo",)
    only_bots = {
        **update,
        "message": {
            **update["message"],
            "new_chat_members": [{"id": 8, "is_bot": True, "first_name": "OtherBot"}],
        },
    }
    assert reader().read(only_bots) is None


def test_the_senders_app_language_is_kept_for_the_gateways_replies() -> None:
    sender = {"id": 7, "is_bot": False, "username": "ann", "language_code": "en"}
    item = reader().read({"update_id": 1, "message": {**update("hi")["message"], "from": sender}})
    assert isinstance(item, Inbound) and item.target.locale == "en"
    assert item.target.to_json()["locale"] == "en"  # stored with the message in the inbox
    plain = reader().read(update("hi"))
    assert isinstance(plain, Inbound) and plain.target.locale is None
