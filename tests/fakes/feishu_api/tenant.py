"""The fake's tenant state: options, tokens, scripted answers, what tests inspect."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.feishu_api.protocol import BAD_TOKEN, JSON, NO_TOKEN, TOKEN_LIFETIME
from tests.fakes.feishu_api.records import Call, Delivery, Fail, LoseResponse, Message, Rejection
from tests.fakes.feishu_files import FeishuFiles
from tests.fakes.loopback import LoopbackServer


class _Tenant:
    """One app in one tenant: its tokens, messages, script and clock."""

    def __init__(
        self,
        *,
        app_id: str = "cli_test",
        app_secret: str = "app-secret-123",  # noqa: S107 - a test value
        verification_token: str = "vtoken123",  # noqa: S107 - a test value
        encrypt_key: str | None = None,
        bot_open_id: str = "ou_bot",
        bot_name: str = "ai-bot test",
        qps: int = 5,
        deadline: float = 3.0,
        retry_schedule: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0),
    ) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.verification_token, self.encrypt_key = verification_token, encrypt_key
        self.bot_open_id, self.bot_name = bot_open_id, bot_name
        self.qps, self.deadline, self.retry_schedule = qps, deadline, retry_schedule
        self.webhook_url: str | None = None
        self.token_lifetime = TOKEN_LIFETIME
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.token_requests = 0
        self.calls: list[Call] = []
        self.messages: dict[str, Message] = {}
        self.card_updates: list[str] = []  # cards redrawn by the answer to a press
        self.deliveries: list[Delivery] = []
        self._uuids: dict[str, tuple[float, JSON]] = {}
        self._script: dict[str, deque[Fail | LoseResponse]] = {}
        self._recent: dict[str, deque[float]] = {}
        self._pushes: set[asyncio.Task[None]] = set()
        self._server = LoopbackServer()
        self.clock_offset = 0.0  # advance() moves the fake's clock (token expiry)
        self.files = FeishuFiles(
            self._authorise,
            lambda mid: self.messages[mid].content if mid in self.messages else None,
        )

    @property
    def base_url(self) -> str:
        return self._server.base_url

    # -- scripting and inspection ---------------------------------------------------------
    def script(self, op: str, *answers: Fail | LoseResponse) -> None:
        """Queues answers for the next calls of `op`: reply, create, patch, update, delete."""
        self._script.setdefault(op, deque()).extend(answers)

    def now(self) -> float:
        return time.monotonic() + self.clock_offset

    def advance(self, seconds: float) -> None:
        self.clock_offset += seconds

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def bot_messages(self, chat_id: str) -> list[Message]:
        return [
            m
            for m in self.messages.values()
            if m.sender == "bot" and m.chat_id == chat_id and not m.deleted
        ]

    def texts(self, chat_id: str) -> list[str]:
        return [m.text for m in self.bot_messages(chat_id)]

    def ops(self, op: str) -> list[Call]:
        return [c for c in self.calls if c.op == op]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := predicate()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.02)
        return value

    async def wait_texts(self, chat_id: str, count: int = 1, timeout: float = 10.0) -> list[str]:
        await self.wait_for(lambda: len(self.texts(chat_id)) >= count, timeout)
        return self.texts(chat_id)

    def _authorise(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise Rejection(400, *NO_TOKEN)
        until = self.tokens.get(header.removeprefix("Bearer "))
        if until is None or until < self.now():
            raise Rejection(400, *BAD_TOKEN)
