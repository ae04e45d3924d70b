"""python-telegram-bot (PTB) as the independent client of the Telegram fake, and a webhook receiver.

Shared by tests/unit/test_fake_telegram_*.py (their fixtures are in tests/unit/conftest.py).
"""

from __future__ import annotations

import datetime as dtm
from collections import deque
from types import TracebackType
from typing import Any, Self

import orjson
from aiohttp import web
from telegram import (
    Bot,
)

from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_api import (
    FakeTelegram,
)

TOKEN = "123456:TEST-TOKEN"
BOT_USERNAME = "gw_test_bot"
SUPERGROUP = -1001234567890


def ptb(fake: FakeTelegram, token: str = TOKEN) -> Bot:
    # PTB appends the token to base_url, so base_url ends in "/bot".
    return Bot(token, base_url=f"{fake.base_url}/bot")


def last_description(fake: FakeTelegram) -> str:
    """The exact description the fake put on the wire for the latest call."""
    response = fake.requests[-1].response
    assert isinstance(response, dict) and response["ok"] is False
    return str(response["description"])


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class Receiver:
    """A webhook endpoint: answers the scripted statuses (then 200) and records every POST."""

    def __init__(self, *statuses: int, reply: Any = None) -> None:
        self.statuses = deque(statuses)
        self.reply = reply
        self.got: list[tuple[dict[str, str], Any]] = []
        self.answered: list[int] = []
        self.url = ""
        self._server = LoopbackServer()

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/telegram/webhook", self._handle)
        self.url = await self._server.start(app) + "/telegram/webhook"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._server.stop()

    async def _handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), orjson.loads(await request.read())))
        status = self.statuses.popleft() if self.statuses else 200
        self.answered.append(status)
        if status == 200 and self.reply is not None:
            return web.json_response(self.reply)
        return web.Response(status=status)
