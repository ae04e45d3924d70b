"""The fake's corp: options, tokens, scripted errcodes and what tests read."""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.wecom_api.protocol import (
    AES_KEY,
    AGENT_ID,
    CORP_ID,
    JSON,
    SECRET,
    TOKEN,
    Sent,
    _Token,
)


@dataclass
class _Tenant:
    """One corp with one agent: its tokens, members, sends and media."""

    corp_id: str = CORP_ID
    secret: str = SECRET
    agent_id: int = AGENT_ID
    token: str = TOKEN
    encoding_aes_key: str = AES_KEY
    members: set[str] = field(default_factory=lambda: {"zhangsan", "lisi", "wangwu"})
    trusted_ips: set[str] | None = None  # None: every IP is trusted
    token_ttl: int = 7200
    callback_timeout: float = 5.0
    retry_gap: float = 0.2
    clock: Callable[[], float] = time.monotonic  # token expiry and the per-member limit
    sent: list[Sent] = field(default_factory=list)
    dropped: list[Sent] = field(default_factory=list)
    calls: list[tuple[str, JSON]] = field(default_factory=list)  # (path, answer)
    token_requests: int = 0

    def __post_init__(self) -> None:
        self._server = LoopbackServer()
        self._key = base64.b64decode(self.encoding_aes_key + "=")
        self._tokens: dict[str, _Token] = {}
        self._current: _Token | None = None
        self._scripted: deque[int] = deque()
        self._per_member: dict[str, deque[float]] = {}
        self._changed = asyncio.Event()
        self.base_url = ""
        # Temporary media (临时素材) users sent: media_id -> (bytes, type, file name).
        self.media: dict[str, tuple[bytes, str, str]] = {}
        self.media_fetches: list[str] = []
        self.media_hang = 0.0  # seconds media/get waits before its answer (it never ends)
        self.media_requested: list[str] = []  # media ids asked for, answered or not
        self._response_codes: dict[str, Sent] = {}  # unused codes -> the card they update
        self.card_updates: list[JSON] = []

    # ---------------------------------------------------------------- scripting and reading
    def script(self, *errcodes: int) -> None:
        """The next message/send calls answer these errcodes, one each (after token checks);
        0 lets that call through."""
        self._scripted.extend(errcodes)

    def expire_tokens(self) -> None:
        """Every issued token is past its expiry: calls get 42001."""
        for token in self._tokens.values():
            token.expires_at = 0.0
        self._current = None

    def revoke_tokens(self) -> None:
        """WeCom invalidated the tokens early: calls get 40014."""
        for token in self._tokens.values():
            token.revoked = True
        self._current = None

    def sent_to(self, user: str) -> list[Sent]:
        return [s for s in self.sent if s.touser == user]

    def errcodes(self, path: str) -> list[int]:
        return [int(answer["errcode"]) for p, answer in self.calls if p == path]

    async def wait_sent(
        self, count: int, user: str | None = None, timeout: float = 10.0
    ) -> list[Sent]:
        async def reached() -> list[Sent]:
            while True:
                found = self.sent_to(user) if user else list(self.sent)
                if len(found) >= count:
                    return found
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(reached(), timeout)

    def _answer(
        self, request: web.Request, path: str, code: int, message: str = "ok", **extra: Any
    ) -> web.Response:
        body: JSON = {"errcode": code, "errmsg": message}
        if code:
            body["errmsg"] = (
                f"{message}, hint: [{int(time.time())}_{secrets.token_hex(8)}], "
                f"from ip: {request.remote}, more info at "
                f"https://open.work.weixin.qq.com/devtool/query?e={code}"
            )
        body.update(extra)
        self.calls.append((path, body))
        self._changed.set()
        return web.Response(
            body=orjson.dumps(body), content_type="application/json", charset="UTF-8"
        )

    def _token_problem(self, request: web.Request, path: str) -> web.Response | None:
        value = request.query.get("access_token")
        if not value:
            return self._answer(request, path, 41001, "access_token missing")
        token = self._tokens.get(value)
        if token is None or token.revoked:
            return self._answer(request, path, 40014, "invalid access_token")
        if token.expires_at <= self.clock():
            return self._answer(request, path, 42001, "access_token expired")
        if self.trusted_ips is not None and request.remote not in self.trusted_ips:
            return self._answer(request, path, 60020, "not allow to access from your ip")
        return None
