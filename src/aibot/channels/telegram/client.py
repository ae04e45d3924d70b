"""A small Bot API client on one pooled aiohttp session, with Telegram's errors made explicit.

An `ok: false` answer or a transport failure raises `PlatformError`: `code` is Telegram's
`error_code`, `retry_after` its `parameters.retry_after`; a group that became a supergroup
raises `ChatMigrated` with the new chat id.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from aibot.channels.errors import PlatformError
from aibot.ops.proxy import proxy_for


class ChatMigrated(PlatformError):
    """The group became a supergroup: it is now the chat `migrate_to`, where a retry goes."""

    def __init__(self, message: str, migrate_to: int, *, status: int, code: int) -> None:
        super().__init__(message, status=status, code=code, permanent=True)
        self.migrate_to = migrate_to


def _retryable(code: int) -> bool:
    """429 waits as told and 5xx passes; 403 (blocked, kicked) and other 4xx are final."""
    return code == 429 or code >= 500


def bad_entities(exc: PlatformError) -> bool:
    """Telegram could not parse our HTML: the same text as plain text will pass."""
    return exc.code == 400 and "can't parse entities" in str(exc)


class TelegramApi:
    def __init__(self, token: str, api_base: str, *, timeout: float = 30.0) -> None:
        self._url = f"{api_base.rstrip('/')}/bot{token}/"
        # Where getFile's `file_path` is downloaded; it holds the token: never logged.
        self.file_base = f"{api_base.rstrip('/')}/file/bot{token}/"
        self.proxy = proxy_for(api_base)
        self._proxy = proxy_for(api_base)
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, allowed: float | None = None, **params: Any) -> Any:
        """Calls `method` (within `allowed` seconds); returns `result` or raises PlatformError."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"Content-Type": "application/json"},
                connector=aiohttp.TCPConnector(limit=50),
            )
        body = orjson.dumps({k: v for k, v in params.items() if v is not None})
        try:
            async with self._session.post(
                self._url + method,
                data=body,
                proxy=self._proxy,
                timeout=aiohttp.ClientTimeout(total=allowed or self._timeout),
            ) as response:
                raw = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PlatformError(f"{method}: network error: {exc!r}") from None
        status = response.status
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise PlatformError(
                f"{method}: HTTP {status}, not JSON",
                status=status,
                code=status,
                permanent=not _retryable(status),
            ) from None
        if answer.get("ok"):
            return answer.get("result")
        parameters = answer.get("parameters") or {}
        message = f"{method}: {answer.get('description', 'error')}"
        code = int(answer.get("error_code") or status)
        migrate_to = parameters.get("migrate_to_chat_id")
        if migrate_to is not None:
            raise ChatMigrated(message, int(migrate_to), status=status, code=code)
        raise PlatformError(
            message,
            status=status,
            code=code,
            retry_after=parameters.get("retry_after"),
            permanent=not _retryable(code),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
