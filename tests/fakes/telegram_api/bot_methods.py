"""The methods the bot calls: getMe, sendMessage, edits, chat actions, drafts, commands."""

from __future__ import annotations

import asyncio
import copy

from tests.fakes.telegram_api.core import Handler
from tests.fakes.telegram_api.protocol import (
    CALLBACK_ANSWER_WINDOW,
    CANT_EDIT,
    CHAT_ACTIONS,
    DELETE_NOT_FOUND,
    EDIT_NOT_FOUND,
    JSON,
    NOT_MODIFIED,
    QUERY_INVALID,
    WRONG_ACTION,
    ApiError,
)
from tests.fakes.telegram_api.records import ChatAction
from tests.fakes.telegram_api.webhook import _WebhookDelivery


class _BotMethods(_WebhookDelivery):
    """What the bot can do in a chat; each call is checked as Telegram checks it."""

    # -- methods

    def _get_me(self, params: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _answer_callback_query(self, params: JSON) -> bool:
        """Each query is answered once, within the window; the text shows as a toast."""
        query_id = str(params.get("callback_query_id") or "")
        pressed = self._open_queries.pop(query_id, None)
        if pressed is None or self.clock() - pressed > CALLBACK_ANSWER_WINDOW:
            raise ApiError(400, QUERY_INVALID)
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers.append(dict(params))
        return True

    def _send_message(self, params: JSON) -> JSON:
        chat = self._resolve_chat(params)
        text, entities = self._format(params)
        thread = self._check_thread(chat, params)
        reply = self._reply_for(chat, params)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        message: JSON = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": copy.deepcopy(chat),
            "date": int(self.clock()),
        }
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if reply is not None:
            message["reply_to_message"] = reply
        message["text"] = text
        if entities:
            message["entities"] = entities
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._messages[(chat["id"], message["message_id"])] = message
        self.sent.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _edit_message_text(self, params: JSON) -> JSON | bool:
        if params.get("inline_message_id"):
            text, entities = self._format(params)
            self.edits.append(
                {
                    "inline_message_id": params["inline_message_id"],
                    "text": text,
                    "entities": entities,
                }
            )
            return True
        chat = self._resolve_chat(params)
        message = self._messages.get((chat["id"], int(params.get("message_id") or 0)))
        if message is None:
            raise ApiError(400, EDIT_NOT_FOUND)
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, CANT_EDIT)
        text, entities = self._format(params)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        if (
            text == message.get("text")
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise ApiError(400, NOT_MODIFIED)
        message["text"] = text
        message["edit_date"] = int(self.clock())
        for key, value in (("entities", entities), ("reply_markup", markup)):
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        self.edits.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _edit_reply_markup(self, params: JSON) -> JSON:
        """Replaces a bot message's inline keyboard; without ``reply_markup`` removes it."""
        chat = self._resolve_chat(params)
        message = self._messages.get((chat["id"], int(params.get("message_id") or 0)))
        if message is None:
            raise ApiError(400, EDIT_NOT_FOUND)
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, CANT_EDIT)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        markup = markup if isinstance(markup, dict) and markup.get("inline_keyboard") else None
        if markup == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = int(self.clock())
        self.edits.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _send_chat_action(self, params: JSON) -> bool:
        chat = self._resolve_chat(params)
        action = params.get("action")
        if action not in CHAT_ACTIONS:
            raise ApiError(400, WRONG_ACTION)
        thread = params.get("message_thread_id")
        self.chat_actions.append(
            ChatAction(
                chat["id"],
                str(action),
                int(thread) if thread is not None else None,
                asyncio.get_running_loop().time(),
            )
        )
        return True

    def _delete_message(self, params: JSON) -> bool:
        chat = self._resolve_chat(params)
        key = (chat["id"], int(params.get("message_id") or 0))
        if self._messages.pop(key, None) is None:
            raise ApiError(400, DELETE_NOT_FOUND)
        self.deleted.append(key)
        return True

    def _send_message_draft(self, params: JSON) -> bool:
        chat = self._resolve_chat(params)
        if chat["type"] != "private":
            raise ApiError(400, "Bad Request: drafts can be sent only to private chats")  # [?]
        if not params.get("draft_id"):
            raise ApiError(400, "Bad Request: draft_id must be non-zero")  # [?]
        text, entities = self._format(params) if params.get("text") else ("", [])
        self.drafts.append(
            {
                "chat_id": chat["id"],
                "draft_id": int(params["draft_id"]),
                "text": text,
                "entities": entities,
                "at": asyncio.get_running_loop().time(),
            }
        )
        return True

    def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")  # [?]
        self.commands = [dict(c) for c in commands]
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        return copy.deepcopy(self.commands)

    def _delete_my_commands(self, params: JSON) -> bool:
        self.commands = []
        return True

    def _served_methods(self) -> list[tuple[str, Handler]]:
        return [
            *super()._served_methods(),
            ("getMe", self._get_me),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_reply_markup),
            ("sendChatAction", self._send_chat_action),
            ("deleteMessage", self._delete_message),
            ("sendMessageDraft", self._send_message_draft),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("answerCallbackQuery", self._answer_callback_query),
        ]
