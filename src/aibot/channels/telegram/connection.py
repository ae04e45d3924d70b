"""Polling mode: `getUpdates` in a loop, the offset confirming only what the inbox holds.

An update is confirmed to Telegram by the next call's `offset`, which moves past it only after
`receive` returned, i.e. after the commit: a crash in between means a re-delivery, which the
inbox drops as a duplicate. Failures back off exponentially (or as long as Telegram says).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from aibot.channels.base import Problem
from aibot.channels.errors import PlatformError
from aibot.channels.telegram.client import TelegramApi
from aibot.channels.telegram.inbound import ALLOWED_UPDATES
from aibot.i18n import N_

log = structlog.get_logger("aibot.telegram")

Receive = Callable[[dict[str, Any]], Awaitable[None]]


class LongPoll:
    def __init__(self, api: TelegramApi, poll_timeout: float, receive: Receive) -> None:
        self._api = api
        self._poll_timeout = poll_timeout
        self._receive = receive
        self.error: Problem | None = None

    async def run(self) -> None:
        # Polling while a webhook is set fails with 409 forever: remove it first, keeping
        # whatever Telegram has queued for us.
        await self._api.call("deleteWebhook", drop_pending_updates=False)
        offset: int | None = None
        backoff = 1.0
        while True:
            try:
                updates = await self._api.call(
                    "getUpdates",
                    allowed=self._poll_timeout + 15,
                    offset=offset,
                    timeout=int(self._poll_timeout),
                    allowed_updates=ALLOWED_UPDATES,
                )
                for update in updates:
                    await self._receive(update)
                    offset = int(update["update_id"]) + 1
                backoff = 1.0
                self.error = None
            except PlatformError as exc:
                self.error = Problem(N_("polling failed: {error}"), {"error": str(exc)})
                log.warning("telegram polling failed; retrying", error=str(exc), retry_in=backoff)
                await asyncio.sleep(exc.retry_after or backoff)
                backoff = min(backoff * 2, 60.0)
            except Exception as exc:
                # The store refused an update: the offset has not moved past it, so the next
                # getUpdates brings it again once the store is back.
                self.error = Problem(N_("could not store an update: {error}"), {"error": repr(exc)})
                log.exception("telegram update not stored; retrying", retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
