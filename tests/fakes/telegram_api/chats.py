"""Chats and messages the fake knows: made up on first use, resolved, formatted, replied to."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.telegram_api.core import _Core
from tests.fakes.telegram_api.entities import EntityParseError, _entity_json, _trim, utf16_len
from tests.fakes.telegram_api.html_entities import parse_html
from tests.fakes.telegram_api.markdown_entities import parse_markdown, parse_markdown_v2
from tests.fakes.telegram_api.params import _coerce, _is_entity
from tests.fakes.telegram_api.protocol import (
    BLOCKED,
    BUTTON_DATA_INVALID,
    CANT_PARSE,
    CHAT_ID_EMPTY,
    CHAT_NOT_FOUND,
    JSON,
    MIGRATED,
    REPLY_NOT_FOUND,
    TEXT_EMPTY,
    THREAD_NOT_FOUND,
    TOO_LONG,
    UNSUPPORTED_PARSE_MODE,
    ApiError,
)


class _Chats(_Core):
    """Chat and message state shared by updates (from users) and methods (from the bot)."""

    # -- chats and messages

    def _remember_chat(
        self,
        chat_id: int,
        kind: str,
        *,
        user: JSON | None = None,
        title: str = "Team",
        forum: bool = False,
    ) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = {"id": chat_id, "type": kind}
            if kind == "private":
                user = user or {"first_name": "User"}
                chat["first_name"] = user.get("first_name", "User")
                if user.get("username"):
                    chat["username"] = user["username"]
            else:
                chat["title"] = title
            self._chats[chat_id] = chat
        if forum and chat["type"] == "supergroup":
            chat["is_forum"] = True
        return copy.deepcopy(chat)

    def _new_message_id(self, chat_id: int) -> int:
        next_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = next_id + 1
        return next_id

    def _reply_target(self, chat_id: int, reply_to: int | None, to_bot: bool) -> JSON | None:
        if reply_to is not None:
            target = self._messages.get((chat_id, reply_to))
            if target is None:
                raise ValueError(f"no message {reply_to} in chat {chat_id}")
        elif to_bot:
            mine = [
                m
                for (cid, _), m in self._messages.items()
                if cid == chat_id and m["from"]["id"] == self.bot_id
            ]
            if mine:
                target = max(mine, key=lambda m: m["message_id"])
            else:
                target = {
                    "message_id": self._new_message_id(chat_id),
                    "from": self.bot_user,
                    "chat": copy.deepcopy(self._chats[chat_id]),
                    "date": int(self.clock()),
                    "text": "…",
                }
                self._messages[(chat_id, target["message_id"])] = target
        else:
            return None
        reply = copy.deepcopy(target)
        reply.pop("reply_to_message", None)
        return reply

    def _resolve_chat(self, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, CHAT_ID_EMPTY)
        if isinstance(chat_id, str):
            for chat in self._chats.values():
                if chat_id.startswith("@") and chat.get("username") == chat_id[1:]:
                    return chat
            raise ApiError(400, CHAT_NOT_FOUND)
        if chat_id in self.migrated_chats:
            raise ApiError(400, MIGRATED, {"migrate_to_chat_id": self.migrated_chats[chat_id]})
        if chat_id in self.blocked_chats:
            raise ApiError(403, BLOCKED)
        if chat_id not in self._chats:
            if self.strict_chats:
                raise ApiError(400, CHAT_NOT_FOUND)
            self._remember_chat(chat_id, _kind_of(chat_id))
        return self._chats[chat_id]

    def _format(self, params: JSON) -> tuple[str, list[JSON]]:
        """Text and entities after parse_mode/entities, trim and length check."""
        text = params.get("text")
        if not isinstance(text, str) or text == "":
            raise ApiError(400, TEXT_EMPTY)
        mode = str(params.get("parse_mode") or "").lower()
        parsers = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}
        if mode:
            if mode not in parsers:
                raise ApiError(400, UNSUPPORTED_PARSE_MODE)
            try:
                text, parsed = parsers[mode](text)
            except EntityParseError as exc:
                raise ApiError(400, CANT_PARSE + str(exc)) from None
            entities = [_entity_json(e) for e in parsed]
        else:
            given = params.get("entities") or []
            if not isinstance(given, list) or not all(_is_entity(e) for e in given):
                raise ApiError(400, "Bad Request: can't parse entities JSON object")  # [?]
            entities = sorted((dict(e) for e in given), key=lambda e: (e["offset"], -e["length"]))
        text, entities = _trim(text, entities)
        length = utf16_len(text) if self.count_utf16 else len(text)
        if length > self.max_text_length:
            raise ApiError(400, TOO_LONG)
        return text, entities

    def _check_thread(self, chat: JSON, params: JSON) -> int | None:
        thread = params.get("message_thread_id")
        if thread is None or not chat.get("is_forum"):
            return None
        if thread not in self._topics.get(chat["id"], set()):
            raise ApiError(400, THREAD_NOT_FOUND)
        return int(thread)

    def _reply_for(self, chat: JSON, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply"),
            }
        if reply is None:
            return None
        if not isinstance(reply, dict) or "message_id" not in reply:
            raise ApiError(400, "Bad Request: can't parse reply parameters JSON object")  # [?]
        chat_id = _coerce("chat_id", reply.get("chat_id", chat["id"]))
        target = self._messages.get((chat_id, int(reply["message_id"])))
        if target is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise ApiError(400, REPLY_NOT_FOUND)
        found = copy.deepcopy(target)
        found.pop("reply_to_message", None)
        return found

    @staticmethod
    def _check_markup(markup: Any) -> None:
        """Inline keyboards: rows of buttons, each with text and 1–64 bytes of callback data."""
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if not button.get("text") or (
                    data is not None and not 1 <= len(str(data).encode()) <= 64
                ):
                    raise ApiError(400, BUTTON_DATA_INVALID)


def _kind_of(chat_id: int) -> str:
    """Chat type from the id: supergroups are -100 followed by ten or more digits."""
    if chat_id > 0:
        return "private"
    return "supergroup" if chat_id <= -1_000_000_000_000 else "group"
