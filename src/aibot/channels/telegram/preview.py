"""What the user sees while the model works: "typing…", and with `stream` on a draft message.

The draft is plain text (a half-written answer is not valid Markdown) edited at most every
`interval` seconds; the outbox later turns it into the formatted answer's first part (the
message id is left in `drafts`). Errors only stop the preview, never the answer. Previews talk
to the Bot API client only.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aibot.channels.errors import PlatformError
from aibot.channels.telegram.client import TelegramApi

TYPING_EVERY = 4.0  # Telegram shows "typing…" for about 5 s
PREVIEW_LIMIT = 4000


async def keep_typing(api: TelegramApi, chat_id: int, thread_id: int | None) -> None:
    """Shows "typing…" until cancelled."""
    while True:
        with contextlib.suppress(PlatformError):
            await api.call(
                "sendChatAction", chat_id=chat_id, message_thread_id=thread_id, action="typing"
            )
        await asyncio.sleep(TYPING_EVERY)


class Draft:
    """Streams an answer into one message; `drafts[key]` gets its message id once sent."""

    def __init__(
        self,
        api: TelegramApi,
        chat_id: int,
        thread_id: int | None,
        *,
        interval: float,
        clock: Callable[[], float],
        drafts: dict[int, int],
        key: int,
    ) -> None:
        self._api = api
        self._chat_id = chat_id
        self._thread_id = thread_id
        self._interval = interval
        self._clock = clock
        self._drafts = drafts
        self._key = key
        self._text = ""
        self._next_show = clock() + interval
        self._message_id: int | None = None

    async def __call__(self, piece: str) -> None:
        self._text += piece
        if self._clock() >= self._next_show:
            await self._show()

    async def _show(self) -> None:
        self._next_show = self._clock() + self._interval
        text = self._text.strip()
        if not text:
            return
        if len(text) > PREVIEW_LIMIT:
            text = text[:PREVIEW_LIMIT] + "…"
        try:
            if self._message_id is None:
                sent = await self._api.call(
                    "sendMessage",
                    chat_id=self._chat_id,
                    text=text,
                    message_thread_id=self._thread_id,
                )
                self._message_id = int(sent["message_id"])
                self._drafts[self._key] = self._message_id
            else:
                await self._api.call(
                    "editMessageText", chat_id=self._chat_id, message_id=self._message_id, text=text
                )
        except PlatformError as exc:
            self._next_show = self._clock() + (exc.retry_after or self._interval)
