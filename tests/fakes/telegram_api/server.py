"""``FakeTelegram``: the fake Bot API server tests use, with what they inspect and wait for."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from tests.fakes.telegram_api.bot_methods import _BotMethods
from tests.fakes.telegram_api.protocol import JSON


class FakeTelegram(_BotMethods):
    """A Telegram Bot API server for one bot (see the module docstring).

    Options: ``token``; the bot's ``username``, ``bot_id`` (default: the token's number) and
    ``first_name``; ``can_read_all_group_messages`` (privacy mode off) and ``can_join_groups``
    as getMe reports them; ``webhook_retry_delays`` (seconds before each re-delivery; after the
    last one the update is dropped, as Telegram "gives up after a reasonable amount of
    attempts"); ``webhook_timeout`` (seconds to wait for the receiver); ``strict_webhook_url``
    (demand HTTPS on 443/80/88/8443 as Telegram does; off by default so tests can use plain
    http on a loopback port); ``strict_chats`` (unknown chat ids → "chat not found" instead of
    being made up); ``max_text_length``/``count_utf16`` (the sendMessage limit and its unit;
    PROTOCOLS.md §8 leaves the unit open, UTF-16 is assumed); ``drafts`` (serve
    sendMessageDraft, or answer 404 like an older Bot API); ``clock`` (unix seconds for
    ``date`` fields); ``first_update_id``.
    """

    def calls(self, method: str) -> list[JSON]:
        """The params of every call of ``method`` (case-insensitive), in arrival order."""
        return [c.params for c in self.requests if c.method.lower() == method.lower()]

    def sent_to(self, chat_id: int | str) -> list[JSON]:
        """Messages the bot sent to ``chat_id``, in order, as sent."""
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """The current state of a message (after edits), or None if unknown or deleted."""
        found = self._messages.get((chat_id, message_id))
        return copy.deepcopy(found) if found is not None else None

    def texts(self, chat_id: int) -> list[str]:
        """What the chat shows from the bot now: texts of its live messages, after edits."""
        mine = [
            m
            for (cid, _), m in self._messages.items()
            if cid == chat_id and m.get("from", {}).get("id") == self.bot_id
        ]
        return [m.get("text", "") for m in sorted(mine, key=lambda m: m["message_id"])]

    def reset(self) -> None:
        """Forget recorded calls, sends, deliveries and any unconsumed script."""
        for log in (
            self.requests,
            self.sent,
            self.edits,
            self.deleted,
            self.chat_actions,
            self.drafts,
            self.deliveries,
            self.dropped_updates,
        ):
            log.clear()
        self._script.clear()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked whenever the fake's state changes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (value := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            await self._wait_change(min(remaining, 0.05))
        return value

    async def wait_sent(
        self, count: int = 1, *, chat_id: int | str | None = None, timeout: float = 5.0
    ) -> list[JSON]:
        """Wait until the bot has sent ``count`` messages (to ``chat_id``); return them."""

        def ready() -> list[JSON] | None:
            got = self.sent if chat_id is None else self.sent_to(chat_id)
            return got if len(got) >= count else None

        result: list[JSON] = await self.wait_for(ready, timeout)
        return result

    async def wait_delivered(self, timeout: float = 5.0) -> None:
        """Wait until no update is pending (all confirmed, delivered or given up)."""
        await self.wait_for(lambda: not self._updates, timeout)
