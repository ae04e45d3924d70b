"""Which Telegram updates become messages for the assistant, and with what session and text.

Groups follow `group_trigger`: by default only a mention of the bot, a reply to the bot or a
`/command@bot` reaches the model, with the mention removed from the prompt.

An album (pictures sent together) comes as one update per picture with the same
`media_group_id`, the caption on one of them: each becomes a message of the batch named by that
id, which the inbox answers as one (core/batches.py). In a group, the pictures of an album whose
caption addressed the bot are addressed too.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aibot.config import TelegramChannelConfig
from aibot.core.events import EventKind, PlatformEvent
from aibot.core.messages import Attachment, ChatType, Inbound, MediaKind, ReplyTarget
from aibot.i18n import locale_hint

CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]  # what `read` understands
ALBUMS_REMEMBERED = 1000  # albums addressed to the bot in groups, newest kept


@dataclass(frozen=True, slots=True)
class TelegramReply:
    """Telegram's part of a reply target: the forum topic, and in groups the message replied to."""

    thread_id: int | None = None
    reply_to: int | None = None

    def target(self, chat_id: int, chat_type: ChatType, locale: str | None = None) -> ReplyTarget:
        """`locale`: the sender's `language_code` (their Telegram app's language)."""
        return ReplyTarget(
            chat_id,
            chat_type,
            platform={"thread_id": self.thread_id, "reply_to": self.reply_to},
            locale=locale,
        )

    @classmethod
    def of(cls, target: ReplyTarget) -> TelegramReply:
        thread, reply_to = target.platform.get("thread_id"), target.platform.get("reply_to")
        return cls(
            thread if isinstance(thread, int) else None,
            reply_to if isinstance(reply_to, int) else None,
        )


def chat_of(target: ReplyTarget) -> int:
    """The chat a reply goes to; a target without one is a bug, not something to send."""
    if target.chat_id is None:
        raise ValueError("a Telegram reply target needs a chat_id")
    return int(target.chat_id)


@dataclass(frozen=True, slots=True)
class Notice:
    """A message the assistant cannot read (photo, sticker…): answered with a fixed text."""

    chat_id: int
    thread_id: int | None
    reply_to: int
    locale: str | None = None  # the sender's language_code: the notice is said in it


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """A user pressed one of our inline buttons; Telegram waits for an answer to the query."""

    query_id: str
    user_id: str
    data: str
    locale: str | None = None  # the presser's language_code: the toast is said in it
    chat_id: int | None = None  # the message that carries the button (to edit it)
    message_id: int | None = None


def utf16_slice(text: str, offset: int, length: int) -> str:
    """Telegram entity offsets count UTF-16 code units."""
    encoded = text.encode("utf-16-le")
    return encoded[offset * 2 : (offset + length) * 2].decode("utf-16-le")


class UpdateReader:
    def __init__(
        self,
        config: TelegramChannelConfig,
        bot_id: int,
        bot_username: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._config = config
        self._clock = clock
        self._bot_id = bot_id
        self._mention = f"@{bot_username}".lower()
        self._allowed_users = {u.lower().lstrip("@") for u in config.allowed_users}
        self._allowed_chats = set(config.allowed_chats)
        self._albums: OrderedDict[str, None] = OrderedDict()  # addressed in groups

    def read(self, update: dict[str, Any]) -> Inbound | Notice | ButtonPress | PlatformEvent | None:
        query = update.get("callback_query")
        if isinstance(query, dict) and isinstance(query.get("id"), str):
            sender, carrier = query.get("from") or {}, query.get("message") or {}
            chat_id, message_id = (carrier.get("chat") or {}).get("id"), carrier.get("message_id")
            return ButtonPress(
                query["id"],
                str(sender.get("id", "")),
                str(query.get("data", ""))[:64],
                _language_code(sender),
                chat_id if isinstance(chat_id, int) else None,
                message_id if isinstance(message_id, int) else None,
            )
        membership = update.get("my_chat_member")
        if isinstance(membership, dict):
            return self._bot_membership(update, membership)
        message = update.get("message")
        if not isinstance(message, dict):
            return None  # edits, channel posts: not conversations
        return self._message(update, message)

    def _message(
        self, update: dict[str, Any], message: dict[str, Any]
    ) -> Inbound | Notice | PlatformEvent | None:
        """A message in a chat: members joining, or something said to the bot."""
        chat, sender = message.get("chat") or {}, message.get("from") or {}
        if not isinstance(chat.get("id"), int) or not isinstance(message.get("message_id"), int):
            return None  # not Telegram's shape: nothing could be sent back to such a chat
        joined = message.get("new_chat_members")
        if isinstance(joined, list) and chat.get("type") in ("group", "supergroup"):
            return self._members_joined(update, chat, joined)
        if sender.get("is_bot") or not self._allowed(chat, sender):
            return None
        group = chat.get("type") in ("group", "supergroup")
        attachments = attachments_of(message)
        text, entities = _said(message, attachments)
        album = message.get("media_group_id") if attachments else None
        album = album if isinstance(album, str) else None
        if group and not self._album_addressed(album, self._addressed(message, text, entities)):
            return None
        thread = message.get("message_thread_id") if message.get("is_topic_message") else None
        if text is None:
            return Notice(chat["id"], thread, message["message_id"], _language_code(sender))
        prompt = self._strip_mention(text, entities) if group else text
        if not prompt.strip() and not attachments:
            return None
        inbound = self._inbound(update, message, sender, prompt.strip(), thread, attachments)
        inbound.batch = album
        return inbound

    def _album_addressed(self, album: str | None, addressed: bool) -> bool:
        """Whether a group message is for the bot: addressed itself, or a picture of an album
        whose caption was (the caption comes with one of its pictures, the first in practice)."""
        if album is None:
            return addressed
        if addressed:
            self._albums[album] = None
            while len(self._albums) > ALBUMS_REMEMBERED:
                self._albums.popitem(last=False)
        return album in self._albums

    def _inbound(
        self,
        update: dict[str, Any],
        message: dict[str, Any],
        sender: dict[str, Any],
        prompt: str,
        thread: int | None,
        attachments: tuple[Attachment, ...] = (),
    ) -> Inbound:
        """What was said, keyed to its chat (and topic, and user in per-user group sessions)."""
        chat = message["chat"]
        group = chat.get("type") in ("group", "supergroup")
        user = str(sender.get("id", chat["id"]))
        key = f"{CHANNEL}:{chat['id']}" + (f":{thread}" if thread else "")
        if group and self._config.group_sessions == "per_user":
            key += f":u{user}"
        return Inbound(
            channel=CHANNEL,
            session_key=key,
            user_id=user,
            text=prompt,
            request_id=uuid.uuid4().hex,
            received_at=self._clock(),
            message_id=f"{self._bot_id}:{update['update_id']}",
            principal=f"telegram:{user}",
            attachments=attachments,
            target=TelegramReply(thread, message["message_id"] if group else None).target(
                chat["id"],
                "group" if group else "private",
                _language_code(sender),
            ),
        )

    def _chat_allowed(self, chat: dict[str, Any]) -> bool:
        return not self._allowed_chats or chat.get("id") in self._allowed_chats

    def _allowed(self, chat: dict[str, Any], sender: dict[str, Any]) -> bool:
        if not self._chat_allowed(chat):
            return False
        if not self._allowed_users:
            return True
        names = {str(sender.get("id")), str(sender.get("username", "")).lower()}
        return bool(names & self._allowed_users)

    def _bot_membership(
        self, update: dict[str, Any], membership: dict[str, Any]
    ) -> PlatformEvent | None:
        """The bot's own status in a group changed: added (member, admin) or removed."""
        chat = membership.get("chat") or {}
        if chat.get("type") not in ("group", "supergroup") or not self._chat_allowed(chat):
            return None
        status = (membership.get("new_chat_member") or {}).get("status")
        was = (membership.get("old_chat_member") or {}).get("status")
        inside, outside = ("member", "administrator", "restricted"), ("left", "kicked")
        if status in inside and was in outside:
            kind: EventKind = "bot_added"
        elif status in outside and was not in outside:
            kind = "bot_removed"
        else:
            return None
        return self._event(update, chat, kind)

    def _members_joined(
        self, update: dict[str, Any], chat: dict[str, Any], joined: list[Any]
    ) -> PlatformEvent | None:
        """Members other than the bot itself (whose arrival `my_chat_member` reports)."""
        if not self._chat_allowed(chat):
            return None
        names = tuple(
            str(m.get("first_name") or m.get("username") or m.get("id"))
            for m in joined
            if isinstance(m, dict) and not m.get("is_bot")
        )
        return self._event(update, chat, "member_joined", names) if names else None

    def _event(
        self,
        update: dict[str, Any],
        chat: dict[str, Any],
        kind: EventKind,
        names: tuple[str, ...] = (),
    ) -> PlatformEvent:
        return PlatformEvent(
            CHANNEL,
            kind,
            f"{self._bot_id}:{update['update_id']}",
            f"{CHANNEL}:{chat['id']}",
            TelegramReply().target(chat["id"], "group"),
            names,
        )

    def _addressed(
        self, message: dict[str, Any], text: str | None, entities: list[dict[str, Any]]
    ) -> bool:
        trigger = self._config.group_trigger
        if trigger != "mention":
            return trigger == "always"
        replied = (message.get("reply_to_message") or {}).get("from") or {}
        if replied.get("id") == self._bot_id:
            return True
        for entity in entities:
            piece = utf16_slice(text or "", entity["offset"], entity["length"]).lower()
            if entity["type"] == "mention" and piece == self._mention:
                return True
            if (
                entity["type"] == "bot_command"
                and entity["offset"] == 0
                and ("@" not in piece or piece.endswith(self._mention))
            ):
                return True
        return False

    def _strip_mention(self, text: str, entities: list[dict[str, Any]]) -> str:
        """Removes `@bot` mentions (and the `@bot` suffix of a command) from the prompt."""
        encoded = text.encode("utf-16-le")
        cuts: list[tuple[int, int]] = []
        for entity in entities:
            start, length = entity["offset"], entity["length"]
            piece = utf16_slice(text, start, length).lower()
            if entity["type"] == "mention" and piece == self._mention:
                cuts.append((start, start + length))
            elif entity["type"] == "bot_command" and piece.endswith(self._mention):
                end = start + length
                cuts.append((end - len(self._mention.encode("utf-16-le")) // 2, end))
        for start, end in sorted(cuts, reverse=True):
            encoded = encoded[: start * 2] + encoded[end * 2 :]
        return encoded.decode("utf-16-le")


def _language_code(sender: dict[str, Any]) -> str | None:
    """The language of the sender's Telegram app, bounded; None when absent or not text."""
    code = sender.get("language_code")
    return locale_hint(code) if isinstance(code, str) else None


def _said(
    message: dict[str, Any], attachments: tuple[Attachment, ...]
) -> tuple[str | None, list[dict[str, Any]]]:
    """The words of a message (a media message's caption, "" without one) and their
    entities; None for a message without words or anything the assistant reads."""
    text = message.get("text")
    if text is None and attachments:
        text = message.get("caption") or ""
    return text, message.get("entities") or message.get("caption_entities") or []


def attachments_of(message: dict[str, Any]) -> tuple[Attachment, ...]:
    """The picture, voice note, audio, document or static sticker of a message, by `file_id`
    (fetched later with getFile); the largest size of a photo. Video is not read."""
    photo = message.get("photo")
    if isinstance(photo, list) and photo:
        sizes = [p for p in photo if isinstance(p, dict) and isinstance(p.get("file_id"), str)]
        if sizes:
            best = max(sizes, key=lambda p: int(p.get("width", 0)) * int(p.get("height", 0)))
            return (_file(best, "image", "image/jpeg"),)
    fields: tuple[tuple[str, MediaKind], ...] = (
        ("voice", "audio"),
        ("audio", "audio"),
        ("document", "file"),
    )
    for field, kind in fields:
        item = message.get(field)
        if isinstance(item, dict) and isinstance(item.get("file_id"), str):
            mime = item.get("mime_type")
            if kind == "file" and isinstance(mime, str) and mime.startswith("image/"):
                kind = "image"
            return (_file(item, kind, "audio/ogg" if field == "voice" else None),)
    sticker = message.get("sticker")
    if (
        isinstance(sticker, dict)
        and isinstance(sticker.get("file_id"), str)
        and not sticker.get("is_animated")
        and not sticker.get("is_video")
    ):
        return (_file(sticker, "image", "image/webp"),)
    return ()


def _file(item: dict[str, Any], kind: MediaKind, mime: str | None) -> Attachment:
    size, name, declared = item.get("file_size"), item.get("file_name"), item.get("mime_type")
    return Attachment(
        kind,
        {"file_id": item["file_id"]},
        declared if isinstance(declared, str) else mime,
        size if isinstance(size, int) else None,
        name if isinstance(name, str) else None,
    )
