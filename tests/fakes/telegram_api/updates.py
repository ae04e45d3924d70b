"""The update queue: what users do (test controls) and getUpdates long polling."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import Sequence

from tests.fakes.telegram_api.chats import _Chats, _kind_of
from tests.fakes.telegram_api.core import Handler
from tests.fakes.telegram_api.entities import find_entities
from tests.fakes.telegram_api.protocol import (
    CONFLICT_OTHER_POLL,
    CONFLICT_SET_WEBHOOK,
    CONFLICT_WEBHOOK_ACTIVE,
    DEFAULT_UPDATE_TYPES,
    JSON,
    ApiError,
)


class _UpdateQueue(_Chats):
    """Updates queued by tests until confirmed by polling or acknowledged by the webhook."""

    # -- test controls: updates

    def push_update(self, update: JSON) -> JSON:
        """Queue ``update`` (an ``update_id`` is assigned if missing) for polling or the webhook."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
        self._updates.append(update)
        self._notify()
        return update

    def user_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ann",
        username: str | None = "ann",
        language_code: str = "en",
        chat_type: str | None = None,
        title: str = "Team",
        entities: list[JSON] | None = None,
        reply_to_bot: bool = False,
        reply_to: int | None = None,
        message_thread_id: int | None = None,
        media: JSON | None = None,
    ) -> JSON:
        """Queue a user's text message as Telegram would deliver it, and return the update.

        ``media`` (a ``photo``/``voice``/``document``… field from ``files``) makes it a media
        message: ``text`` is then its ``caption`` (none when empty).

        ``chat_type`` defaults from the id: positive → private, ``-100`` + 10 digits (or any
        ``message_thread_id``) → supergroup, other negative → group. In a private chat the
        user is the chat (``user_id`` = ``chat_id``).
        ``entities=None`` detects ``bot_command`` and ``mention`` entities (UTF-16 offsets);
        pass a list to set them. ``reply_to_bot`` replies to the bot's latest message in the
        chat (one is made up if there is none); ``reply_to`` replies to a given message id.
        ``message_thread_id`` makes the chat a forum and the message a topic message.
        """
        kind = chat_type or ("supergroup" if message_thread_id is not None else _kind_of(chat_id))
        if kind == "private":
            if user_id is not None and user_id != chat_id:
                raise ValueError("in a private chat the user id is the chat id")
            user_id = chat_id
        user: JSON = {
            "id": user_id if user_id is not None else 777,
            "is_bot": False,
            "first_name": first_name,
        }
        if username:
            user["username"] = username
        user["language_code"] = language_code
        chat = self._remember_chat(
            chat_id, kind, user=user, title=title, forum=message_thread_id is not None
        )
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "from": user,
            "chat": chat,
            "date": int(self.clock()),
        }
        if message_thread_id is not None:
            self._topics.setdefault(chat_id, set()).add(message_thread_id)
            message["message_thread_id"] = message_thread_id
            message["is_topic_message"] = True
        target = self._reply_target(chat_id, reply_to, reply_to_bot)
        if target is not None:
            message["reply_to_message"] = target
        found = find_entities(text) if entities is None else entities
        if media is None:
            message["text"] = text
            if found:
                message["entities"] = found
        else:
            message.update(media)
            if text:
                message["caption"] = text
                if found:
                    message["caption_entities"] = found
        self._messages[(chat_id, message["message_id"])] = message
        return self.push_update({"message": copy.deepcopy(message)})

    def bot_membership(
        self,
        chat_id: int,
        status: str,
        *,
        was: str = "left",
        by_user: int = 777,
        title: str = "Team",
    ) -> JSON:
        """Queue the ``my_chat_member`` update Telegram sends when someone adds the bot to a
        group (``status`` member/administrator) or removes it (left/kicked)."""
        chat = self._remember_chat(chat_id, _kind_of(chat_id), title=title)

        def member(state: str) -> JSON:
            return {"user": copy.deepcopy(self.bot_user), "status": state}

        return self.push_update(
            {
                "my_chat_member": {
                    "chat": copy.deepcopy(chat),
                    "date": int(self.clock()),
                    "from": {"id": by_user, "is_bot": False, "first_name": "Admin"},
                    "old_chat_member": member(was),
                    "new_chat_member": member(status),
                }
            }
        )

    def members_joined(self, chat_id: int, names: Sequence[str], *, title: str = "Team") -> JSON:
        """Queue the service message of people joining a group (``new_chat_members``)."""
        chat = self._remember_chat(chat_id, _kind_of(chat_id), title=title)
        members = [
            {"id": 5000 + i, "is_bot": False, "first_name": name} for i, name in enumerate(names)
        ]
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "from": members[0],
            "chat": copy.deepcopy(chat),
            "date": int(self.clock()),
            "new_chat_members": members,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return self.push_update({"message": copy.deepcopy(message)})

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ann",
    ) -> JSON:
        """Queue the ``callback_query`` of a user pressing the bot's inline button ``data``.

        Only buttons the bot really attached can be pressed (``ValueError`` otherwise). In a
        private chat the presser is the chat's user.
        """
        message = self._messages.get((chat_id, message_id))
        buttons = [
            button
            for row in ((message or {}).get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
        ]
        if not any(button.get("callback_data") == data for button in buttons):
            raise ValueError(f"message {message_id} in {chat_id} has no button {data!r}")
        assert message is not None
        presser = chat_id if _kind_of(chat_id) == "private" else (user_id or 777)
        query_id = str(uuid.uuid4().int)[:19]
        self._open_queries[query_id] = self.clock()
        return self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": {"id": presser, "is_bot": False, "first_name": first_name},
                    "message": copy.deepcopy(message),
                    "chat_instance": str(abs(chat_id) * 7919),
                    "data": data,
                }
            }
        )

    def edited_user_message(self, chat_id: int, message_id: int, text: str) -> JSON:
        """Queue an ``edited_message`` update for a message made by ``user_message``."""
        message = self._messages[(chat_id, message_id)]
        message["text"] = text
        message["edit_date"] = int(self.clock())
        message.pop("entities", None)
        if found := find_entities(text):
            message["entities"] = found
        return self.push_update({"edited_message": copy.deepcopy(message)})

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed (polling) or acknowledged with a 2xx (webhook)."""
        return list(self._updates)

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self._webhook.url:
            raise ApiError(409, CONFLICT_WEBHOOK_ACTIVE)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            self._allowed_updates = list(params["allowed_updates"])
        offset = params.get("offset")
        if offset is not None:
            offset = int(offset)
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        me = object()
        self._poller = me  # a poll already waiting is terminated by this one
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if self._closing:
                    return []
                if self._poller is not me:
                    raise ApiError(
                        409, CONFLICT_SET_WEBHOOK if self._webhook.url else CONFLICT_OTHER_POLL
                    )
                batch = self._deliverable(limit)
                remaining = deadline - loop.time()
                if batch or remaining <= 0:
                    return copy.deepcopy(batch)
                await self._wait_change(remaining)
        finally:
            if self._poller is me:
                self._poller = None

    def _deliverable(self, limit: int) -> list[JSON]:
        """The first ``limit`` queued updates of allowed types; others are discarded."""
        allowed = (
            DEFAULT_UPDATE_TYPES if not self._allowed_updates else frozenset(self._allowed_updates)
        )
        kept = [u for u in self._updates if _update_type(u) in allowed]
        if len(kept) != len(self._updates):
            self._updates = kept
        return kept[:limit]

    def _served_methods(self) -> list[tuple[str, Handler]]:
        return [
            *super()._served_methods(),
            ("getUpdates", self._get_updates),
        ]


def _update_type(update: JSON) -> str:
    return next((k for k in update if k != "update_id"), "")
