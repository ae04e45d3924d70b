"""Which Feishu events become messages for the assistant, and with what session and text.

Only `im.message.receive_v1` (schema 2.0) is read: `text` and `post` content, and the pictures
(also inside a post), audio and files, kept as their keys for the message-resource API (`media.py`
downloads them when the message is handled). Private chats
are always answered; groups follow `group_trigger` (by default only when the bot is @-mentioned,
recognised by its open_id). Mention placeholders `@_user_N` become `@Name`, the bot's own is
removed from the prompt. The inbox key is the message_id: Feishu re-sends one message under new
event ids, so the event id alone would not catch duplicates.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from aibot.config import FeishuChannelConfig
from aibot.core.events import EventKind, PlatformEvent
from aibot.core.messages import Attachment, ChatType, Inbound, JsonValue, ReplyTarget

CHANNEL = "feishu"
RECEIVE = "im.message.receive_v1"
MEMBERSHIP: dict[str, EventKind] = {
    "im.chat.member.bot.added_v1": "bot_added",
    "im.chat.member.bot.deleted_v1": "bot_removed",
    "im.chat.member.user.added_v1": "member_joined",
}


@dataclass(frozen=True, slots=True)
class FeishuReply:
    """Feishu's part of a reply target: the message answered (None for a greeting, which is
    posted to the chat), whether to answer in its thread, and the event a greeting answers."""

    message_id: str | None = None
    thread: bool = False
    event_id: str | None = None

    def target(self, chat_id: str, chat_type: ChatType | None = None) -> ReplyTarget:
        platform: dict[str, JsonValue] = {}
        if self.message_id is not None:
            platform.update(message_id=self.message_id, thread=self.thread)
        if self.event_id is not None:
            platform["event_id"] = self.event_id
        return ReplyTarget(chat_id, chat_type, platform=platform)

    @classmethod
    def of(cls, target: ReplyTarget) -> FeishuReply:
        message_id, event_id = target.platform.get("message_id"), target.platform.get("event_id")
        return cls(
            message_id if isinstance(message_id, str) else None,
            bool(target.platform.get("thread")),
            event_id if isinstance(event_id, str) else None,
        )


def chat_of(target: ReplyTarget) -> str:
    """The chat a reply goes to; a target without one is a bug, not something to send."""
    if target.chat_id is None:
        raise ValueError("a Feishu reply target needs a chat_id")
    return str(target.chat_id)


class EventReader:
    def __init__(
        self,
        config: FeishuChannelConfig,
        bot_open_id: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._bot = bot_open_id
        self._clock = clock

    def read(self, payload: dict[str, Any]) -> Inbound | PlatformEvent | None:
        header, event = payload.get("header"), payload.get("event")
        if not isinstance(header, dict) or not isinstance(event, dict):
            return None
        kind = MEMBERSHIP.get(str(header.get("event_type")))
        if kind is not None:
            return _membership(kind, header, event)
        if header.get("event_type") != RECEIVE:
            return None
        message, sender = _dict(event.get("message")), _dict(event.get("sender"))
        if sender.get("sender_type", "user") != "user":
            return None
        message_id, chat_id = message.get("message_id"), message.get("chat_id")
        if not isinstance(message_id, str) or not isinstance(chat_id, str):
            return None
        mentions = [m for m in _list(message.get("mentions")) if isinstance(m, dict)]
        group = message.get("chat_type") != "p2p"
        if group and not self._addressed(mentions):
            return None
        text = self._text(message, mentions).strip()
        attachments = attachments_of(message)
        if not text and not attachments:
            return None
        user = str(_dict(sender.get("sender_id")).get("open_id") or chat_id)
        thread = message.get("thread_id") if isinstance(message.get("thread_id"), str) else None
        key = f"{CHANNEL}:{chat_id}" + (f":{thread}" if thread else "")
        if group and self._config.group_sessions == "per_user":
            key += f":u{user}"
        return Inbound(
            channel=CHANNEL,
            session_key=key,
            user_id=user,
            text=text,
            request_id=uuid.uuid4().hex,
            received_at=self._clock(),
            message_id=message_id,
            principal=f"feishu:{user}",
            attachments=attachments,
            target=FeishuReply(message_id, bool(thread)).target(
                chat_id, "group" if group else "private"
            ),
        )

    def _addressed(self, mentions: list[dict[str, Any]]) -> bool:
        trigger = self._config.group_trigger
        if trigger != "mention":
            return trigger == "always"
        return any(self._is_bot(m) for m in mentions)

    def _is_bot(self, mention: dict[str, Any]) -> bool:
        return bool(self._bot) and _dict(mention.get("id")).get("open_id") == self._bot

    def _text(self, message: dict[str, Any], mentions: list[dict[str, Any]]) -> str:
        try:
            content = orjson.loads(message.get("content") or "")
        except (orjson.JSONDecodeError, TypeError):
            return ""
        if not isinstance(content, dict):
            return ""
        names = {
            str(m.get("key")): "" if self._is_bot(m) else f"@{m.get('name', '')}" for m in mentions
        }
        kind = message.get("message_type")
        if kind == "text":
            return _resolve(str(content.get("text", "")), names)
        if kind == "post":
            return _post_text(content, names)
        return ""


def attachments_of(message: dict[str, Any]) -> tuple[Attachment, ...]:
    """The pictures (of an image message or inside a post), file or voice of a message, by
    their keys and the message's id: what the message-resource API takes. Stickers and
    folders cannot be downloaded; video is not read."""
    try:
        content = orjson.loads(message.get("content") or "")
    except (orjson.JSONDecodeError, TypeError):
        return ()
    if not isinstance(content, dict):
        return ()
    message_id, kind = str(message.get("message_id")), message.get("message_type")
    if kind == "image":
        keys = [content.get("image_key")]
    elif kind == "post":
        keys = _post_images(content)
    elif kind in ("file", "audio"):
        key, name = content.get("file_key"), content.get("file_name")
        if not isinstance(key, str):
            return ()
        ref: dict[str, JsonValue] = {"message_id": message_id, "file_key": key, "type": "file"}
        if kind == "audio":
            return (Attachment("audio", ref, "audio/ogg", None, "voice.ogg"),)
        return (Attachment("file", ref, None, None, name if isinstance(name, str) else None),)
    else:
        return ()
    return tuple(
        Attachment("image", {"message_id": message_id, "file_key": key, "type": "image"})
        for key in keys
        if isinstance(key, str)
    )


def _post_images(content: dict[str, Any]) -> list[Any]:
    if "content" not in content:  # a post written with language keys: {"zh_cn": {...}}
        content = next((v for v in content.values() if isinstance(v, dict)), {})
    return [
        element.get("image_key")
        for paragraph in _list(content.get("content"))
        for element in _list(paragraph)
        if isinstance(element, dict) and element.get("tag") == "img"
    ]


def _resolve(text: str, names: dict[str, str]) -> str:
    """Replaces placeholders longest first, so `@_user_1` never eats part of `@_user_10`."""
    for key in sorted(names, key=len, reverse=True):
        text = text.replace(key, names[key])
    return text


def _post_text(content: dict[str, Any], names: dict[str, str]) -> str:
    """Flattens a post (title + paragraphs of text/link/@/code elements) into Markdown-ish text."""
    if "content" not in content:  # a post written with language keys: {"zh_cn": {...}}
        content = next((v for v in content.values() if isinstance(v, dict)), {})
    lines = [str(content["title"])] if content.get("title") else []
    for paragraph in _list(content.get("content")):
        lines.append(
            "".join(
                _element_text(element, names)
                for element in _list(paragraph)
                if isinstance(element, dict)
            )
        )
    return "\n".join(lines)


def _element_text(element: dict[str, Any], names: dict[str, str]) -> str:
    tag = element.get("tag")
    if tag == "text":
        return str(element.get("text", ""))
    if tag == "a":
        label, href = element.get("text") or element.get("href", ""), element.get("href", "")
        return f"[{label}]({href})" if href else str(label)
    if tag == "at":
        key = str(element.get("user_id", ""))
        return names.get(key, f"@{element.get('user_name', '')}")
    if tag == "code_block":
        return f"\n```{str(element.get('language', '')).lower()}\n{element.get('text', '')}\n```\n"
    return ""


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _membership(
    kind: EventKind, header: dict[str, Any], event: dict[str, Any]
) -> PlatformEvent | None:
    """The bot added to or removed from a group, or users joining it; the greeting goes to
    the chat itself (there is no message to reply to)."""
    chat_id, event_id = event.get("chat_id"), header.get("event_id")
    if not isinstance(chat_id, str) or not isinstance(event_id, str):
        return None
    names = tuple(
        str(u.get("name") or "")
        for u in _list(event.get("users"))
        if isinstance(u, dict) and u.get("name")
    )
    if kind == "member_joined" and not names:
        return None
    return PlatformEvent(
        CHANNEL,
        kind,
        event_id,
        f"{CHANNEL}:{chat_id}",
        FeishuReply(event_id=event_id).target(chat_id, "group"),
        names,
    )
