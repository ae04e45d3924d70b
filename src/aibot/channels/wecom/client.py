"""A small WeCom API client on one pooled aiohttp session, with a cached access token.

gettoken is throttled, so the token is kept for its `expires_in` less a margin and fetched by one
caller at a time. WeCom may still invalidate it early: a call answered 40014 (invalid) or 42001
(expired) drops the token, fetches a new one and is retried once. 40001 is a wrong secret in
WeCom (unlike WeChat), which a new token cannot fix, so it is not retried. Failures raise
`PlatformError` with WeCom's errcode as `code` (None for a transport failure).

`MemberLimiter` keeps WeCom's per-member send limits on our side, because WeCom drops the
excess silently: an app may send one member at most 30 messages a minute and 1000 an hour;
past that, `message/send` still answers ok and the member never sees the message. So before
each send the channel asks how long to wait, and the outbox re-queues the reply for exactly
that long. The windows slide (timestamps of recent sends), and live in memory: after a restart
the first window may go over by what was sent just before it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from aibot.channels.base import Problem
from aibot.channels.errors import PlatformError
from aibot.i18n import N_
from aibot.ops.proxy import proxy_for

TOKEN_INVALID = frozenset({40014, 42001})
RATE_LIMITED = frozenset({45009, 45011, 45033})  # frequency, too frequent, concurrency
BAD_CORP_ID = 40013
BAD_SECRET = frozenset({40001, 40091})
IP_NOT_TRUSTED = 60020
BAD_AGENT_ID = 40056
WRONG_AGENT = 301002
REFRESH_MARGIN = 300.0  # fetch a new token this long before the old one expires


# -1: busy; a token refused even after a refetch; 60020: the admin can fix it while we wait;
# the rate limits: the channel waits `rate_limit_wait`. Any other errcode is final.
RETRYABLE = frozenset({-1, IP_NOT_TRUSTED}) | TOKEN_INVALID | RATE_LIMITED


_FROM_IP = re.compile(r"from ip: ([0-9A-Fa-f.:]+)")


def config_fix(exc: PlatformError) -> Problem | None:
    """What to change when the error is the user's setup rather than a passing problem (shown
    by `ai-bot doctor` and the channel's status, each in its reader's language)."""
    if exc.code == BAD_CORP_ID:
        return Problem(N_("channels.wecom.corp_id is wrong: copy 企业ID from 我的企业 → 企业信息"))
    if exc.code in BAD_SECRET:
        return Problem(
            N_(
                "channels.wecom.secret is wrong: 应用管理 → your app → Secret (查看 sends it "
                "to the admin's WeCom)"
            )
        )
    if exc.code in (BAD_AGENT_ID, WRONG_AGENT):
        return Problem(
            N_(
                "channels.wecom.agent_id is not the app of this secret: copy AgentId from the "
                "same app's page"
            )
        )
    if exc.code == IP_NOT_TRUSTED:
        ip = _FROM_IP.search(str(exc))
        if ip is None:
            return Problem(
                N_(
                    "add this server's public IP to the app's 企业可信IP "
                    "(应用管理 → your app → 企业可信IP)"
                )
            )
        return Problem(
            N_(
                "add this server's public IP {ip} to the app's 企业可信IP "
                "(应用管理 → your app → 企业可信IP)"
            ),
            {"ip": ip.group(1)},
        )
    return None


class WecomApi:
    def __init__(
        self,
        corp_id: str,
        secret: str,
        api_base: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._corp_id = corp_id
        self._secret = secret
        self._base = api_base.rstrip("/") + "/cgi-bin/"
        self._proxy = proxy_for(api_base)
        self.base_url, self.proxy = self._base, self._proxy  # for downloads (media.py)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._token_lock = asyncio.Lock()
        self.token_fetches = 0

    async def token(self) -> str:
        """The cached access token, fetched when missing or about to expire."""
        async with self._token_lock:
            if self._token is None or self._clock() >= self._expires_at:
                answer = await self._request(
                    "GET", "gettoken", {"corpid": self._corp_id, "corpsecret": self._secret}
                )
                self.token_fetches += 1
                lifetime = float(answer.get("expires_in") or 7200)
                self._token = str(answer["access_token"])
                self._expires_at = self._clock() + lifetime - min(REFRESH_MARGIN, lifetime / 2)
            return self._token

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Calls `path` with the access token; refetches it once if WeCom refuses it."""
        token = await self.token()
        try:
            return await self._request(
                method, path, {**(params or {}), "access_token": token}, body
            )
        except PlatformError as exc:
            if exc.code not in TOKEN_INVALID:
                raise
        await self.forget_token(token)
        token = await self.token()
        return await self._request(method, path, {**(params or {}), "access_token": token}, body)

    async def forget_token(self, token: str) -> None:
        """WeCom refused `token`: the next call fetches a new one."""
        async with self._token_lock:
            if self._token == token:  # not already replaced by a concurrent caller
                self._token = None

    async def send(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self.call("POST", "message/send", body=body)

    async def agent(self, agent_id: int) -> dict[str, Any]:
        return await self.call("GET", "agent/get", params={"agentid": str(agent_id)})

    async def _request(
        self, method: str, path: str, params: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout, connector=aiohttp.TCPConnector(limit=50)
            )
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else None
        try:
            async with self._session.request(
                method,
                self._base + path,
                params=params,
                data=data,
                headers=headers,
                proxy=self._proxy,
            ) as response:
                raw = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            # The exception text never includes the query (token, secret), only the host.
            raise PlatformError(f"{path}: network error: {type(exc).__name__} {exc}") from None
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            answer = None
        if status != 200 or not isinstance(answer, dict):
            raise PlatformError(f"{path}: HTTP {status}, not a WeCom answer", status=status)
        code = answer.get("errcode") or 0
        if not isinstance(code, int):
            raise PlatformError(f"{path}: errcode {code!r} is not a number", status=status)
        if code != 0:
            raise PlatformError(
                f"{path}: errcode {code}: {answer.get('errmsg', '')}",
                status=status,
                code=code,
                permanent=code not in RETRYABLE,
            )
        return answer

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


LIMITS = ((30, 60.0), (1000, 3600.0))  # (sends, window seconds) per member per app


class MemberLimiter:
    def __init__(
        self,
        limits: tuple[tuple[int, float], ...] = LIMITS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._longest = max(window for _count, window in limits)
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def wait(self, member: str) -> float:
        """Seconds until `member` may be sent another message; 0.0 means now."""
        sent = self._recent(member)
        now = self._clock()
        wait = 0.0
        for count, window in self._limits:
            in_window = [at for at in sent if at > now - window]
            if len(in_window) >= count:
                # The oldest send that must leave the window before one more fits.
                wait = max(wait, in_window[-count] + window - now)
        return wait

    def record(self, member: str) -> None:
        self._sent.setdefault(member, deque()).append(self._clock())
        if len(self._sent) > 10_000:  # forget members with nothing left in any window
            for name in [m for m in self._sent if not self._recent(m)]:
                del self._sent[name]

    def _recent(self, member: str) -> deque[float]:
        sent = self._sent.get(member)
        if sent is None:
            return deque()
        horizon = self._clock() - self._longest
        while sent and sent[0] <= horizon:
            sent.popleft()
        return sent
