"""A small open-platform client: one pooled aiohttp session, a cached tenant_access_token.

The token is fetched again 30 min before it expires (only then does Feishu issue a new one);
a 99991663 "token invalid" answer forces one refresh and one retry. Every answer's body `code`
is checked, whatever the HTTP status, because Feishu reports most failures there; a failure
raises `PlatformError`, permanent when retrying cannot help.

Messages are sent as replies to the message answered; when it is gone (recalled, or the
chat's history cleared), or for a greeting that answers no message, to its chat instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from aibot.channels.errors import PlatformError
from aibot.ops.proxy import proxy_for

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"  # noqa: S105 - a path
REFRESH_BEFORE = 1800.0
TOKEN_INVALID = 99991663
NO_TOKEN = 99991661
RATE_LIMITED = {99991400, 230020}
RATE_RESET_HEADER = "x-ogw-ratelimit-reset"
DEFAULT_RATE_WAIT = 1.0
MESSAGES = "/open-apis/im/v1/messages"
# The message answered is gone: post into its chat instead.
REPLY_TARGET_GONE = {230011, 231003}
# Retrying cannot help: the bot was removed, the chat dissolved, no permission, too long, …
PERMANENT = {230002, 230006, 230013, 230022, 230025, 230027, 230035, 232009, 99991672, 99991401}


def rate_limited(exc: PlatformError) -> bool:
    return exc.code in RATE_LIMITED or exc.status == 429


def _permanent(code: int | None, status: int | None) -> bool:
    """Retrying cannot help: a code known to be final, or a 4xx without a Feishu code."""
    return code in PERMANENT or (
        status is not None and 400 <= status < 500 and code is None and status not in (408, 429)
    )


class FeishuApi:
    def __init__(
        self,
        app_id: str,
        app_secret: str,
        base_url: str,
        *,
        timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app_id = app_id
        self._app_secret = app_secret
        self._base = base_url.rstrip("/")
        self._proxy = proxy_for(base_url)
        self.base_url, self.proxy = self._base, self._proxy  # for downloads (media.py)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = asyncio.Lock()
        self._clock = clock

    async def tenant_token(self, *, force: bool = False) -> str:
        """The cached token, fetched anew when forced or within 30 min of expiry."""
        async with self._token_lock:
            if force or self._token is None or self._clock() >= self._token_until:
                answer = await self._request(
                    "POST",
                    TOKEN_PATH,
                    {"app_id": self._app_id, "app_secret": self._app_secret},
                    None,
                    None,
                )
                self._token = str(answer["tenant_access_token"])
                expire = float(answer.get("expire") or 0)
                self._token_until = self._clock() + max(expire - REFRESH_BEFORE, expire / 2)
            return self._token

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """One authorised call; returns `data` (or {}), raises PlatformError."""
        token = await self.tenant_token()
        try:
            answer = await self._request(method, path, body, params, token)
        except PlatformError as exc:
            if exc.code != TOKEN_INVALID:
                raise
            answer = await self._request(
                method, path, body, params, await self.tenant_token(force=True)
            )
        data = answer.get("data")
        return data if isinstance(data, dict) else {}

    async def reply(
        self,
        chat_id: str,
        message_id: str | None,
        msg_type: str,
        body: str,
        *,
        thread: bool = False,
        key: str | None = None,
    ) -> str:
        """Replies to `message_id` (in its thread if `thread`); posts to `chat_id` instead when
        that message is gone, or when there is none. `key` lets Feishu drop a repeated send.
        Returns the id of the message sent."""
        payload: dict[str, Any] = {"msg_type": msg_type, "content": body}
        if key:
            payload["uuid"] = key
        if message_id:
            try:
                data = await self.call(
                    "POST",
                    f"{MESSAGES}/{message_id}/reply",
                    body={**payload, "reply_in_thread": thread},
                )
                return str(data.get("message_id", ""))
            except PlatformError as exc:
                if exc.code not in REPLY_TARGET_GONE:
                    raise
        data = await self.call(
            "POST",
            MESSAGES,
            params={"receive_id_type": "chat_id"},
            body={"receive_id": chat_id, **payload},
        )
        return str(data.get("message_id", ""))

    async def edit(self, message_id: str, body: str) -> None:
        """Replaces the content of a card we sent."""
        await self.call("PATCH", f"{MESSAGES}/{message_id}", body={"content": body})

    async def recall(self, message_id: str) -> None:
        """Best effort: a half-written card must not stay beside the full answer."""
        with contextlib.suppress(PlatformError):
            await self.call("DELETE", f"{MESSAGES}/{message_id}")

    async def bot_info(self) -> dict[str, Any]:
        token = await self.tenant_token()
        answer = await self._request("GET", "/open-apis/bot/v3/info", None, None, token)
        bot = answer.get("bot")
        return bot if isinstance(bot, dict) else {}

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        params: dict[str, str] | None,
        token: str | None,
    ) -> dict[str, Any]:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50))
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            async with self._session.request(
                method,
                self._base + path,
                params=params,
                headers=headers,
                proxy=self._proxy,
                data=orjson.dumps(body) if body is not None else None,
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                status, reset = response.status, response.headers.get(RATE_RESET_HEADER)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PlatformError(f"{method} {path}: network error: {exc!r}") from None
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise PlatformError(
                f"{method} {path}: HTTP {status}, not a JSON object",
                status=status,
                permanent=_permanent(None, status),
            )
        code = answer.get("code")
        if code == 0 and status < 400:
            return answer
        error = PlatformError(
            f"{method} {path}: code {code}: {answer.get('msg', '')}",
            code=code if isinstance(code, int) else None,
            status=status,
            permanent=_permanent(code if isinstance(code, int) else None, status),
        )
        if rate_limited(error):
            error.retry_after = _seconds(reset)
        raise error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _seconds(value: str | None) -> float:
    try:
        return max(float(value or ""), 0.0) or DEFAULT_RATE_WAIT
    except ValueError:
        return DEFAULT_RATE_WAIT
