"""Which Telegram updates become messages for the assistant, and with what session and text.

Groups follow `group_trigger`: by default only a mention of the bot, a reply to the bot or a
`/command@bot` reaches the model, with the mention removed from the prompt.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from aibot.config import TelegramChannelConfig
from aibot.core.messages import Inbound

CHANNEL = "telegram"


@dataclass(frozen=True, slots=True)
class Notice:
    """A message the assistant cannot read (photo, sticker…): answered with a fixed text."""

    chat_id: int
    thread_id: int | None
    reply_to: int


def utf16_slice(text: str, offset: int, length: int) -> str:
    """Telegram entity offsets count UTF-16 code units."""
    encoded = text.encode("utf-16-le")
    return encoded[offset * 2:(offset + length) * 2].decode("utf-16-le")


class UpdateReader:
    def __init__(self, config: TelegramChannelConfig, bot_id: int, bot_username: str) -> None:
        self._config = config
        self._bot_id = bot_id
        self._mention = f"@{bot_username}".lower()
        self._allowed_users = {u.lower().lstrip("@") for u in config.allowed_users}
        self._allowed_chats = set(config.allowed_chats)

    def read(self, update: dict[str, Any]) -> Inbound | Notice | None:
        message = update.get("message")
        if not isinstance(message, dict):
            return None  # edits, channel posts, member changes: not conversations (yet)
        chat, sender = message.get("chat") or {}, message.get("from") or {}
        if sender.get("is_bot") or not self._allowed(chat, sender):
            return None
        group = chat.get("type") in ("group", "supergroup")
        text = message.get("text")
        if group and not self._addressed(message, text):
            return None
        thread = message.get("message_thread_id") if message.get("is_topic_message") else None
        if text is None:
            return Notice(chat["id"], thread, message["message_id"])
        prompt = self._strip_mention(text, message.get("entities") or []) if group else text
        if not prompt.strip():
            return None
        user = str(sender.get("id", chat["id"]))
        key = f"{CHANNEL}:{chat['id']}" + (f":{thread}" if thread else "")
        if group and self._config.group_sessions == "per_user":
            key += f":u{user}"
        return Inbound(
            channel=CHANNEL, session_key=key, user_id=user, text=prompt.strip(),
            request_id=uuid.uuid4().hex, received_at=time.time(),
            message_id=f"{self._bot_id}:{update['update_id']}", principal=f"telegram:{user}",
            target={"chat_id": chat["id"], "chat_type": "group" if group else "private",
                    "thread_id": thread,
                    "reply_to": message["message_id"] if group else None},
        )

    def _allowed(self, chat: dict[str, Any], sender: dict[str, Any]) -> bool:
        if self._allowed_chats and chat.get("id") not in self._allowed_chats:
            return False
        if not self._allowed_users:
            return True
        names = {str(sender.get("id")), str(sender.get("username", "")).lower()}
        return bool(names & self._allowed_users)

    def _addressed(self, message: dict[str, Any], text: str | None) -> bool:
        trigger = self._config.group_trigger
        if trigger != "mention":
            return trigger == "always"
        replied = (message.get("reply_to_message") or {}).get("from") or {}
        if replied.get("id") == self._bot_id:
            return True
        for entity in message.get("entities") or []:
            piece = utf16_slice(text or "", entity["offset"], entity["length"]).lower()
            if entity["type"] == "mention" and piece == self._mention:
                return True
            if entity["type"] == "bot_command" and entity["offset"] == 0 and (
                    "@" not in piece or piece.endswith(self._mention)):
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
            encoded = encoded[:start * 2] + encoded[end * 2:]
        return encoded.decode("utf-16-le")
