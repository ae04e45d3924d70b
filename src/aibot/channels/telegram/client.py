"""A small Bot API client on one pooled aiohttp session, with Telegram's errors made explicit."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from aibot.ops.proxy import proxy_for


class TelegramError(Exception):
    """An `ok: false` answer or a transport failure; the fields say how to react."""

    def __init__(
        self,
        description: str,
        *,
        code: int | None = None,
        retry_after: float | None = None,
        migrate_to: int | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.retry_after = retry_after
        self.migrate_to = migrate_to

    @property
    def retryable(self) -> bool:
        return self.code is None or self.code == 429 or self.code >= 500

    @property
    def bad_entities(self) -> bool:
        return self.code == 400 and "can't parse entities" in str(self)


class TelegramApi:
    def __init__(self, token: str, api_base: str, *, timeout: float = 30.0) -> None:
        self._url = f"{api_base.rstrip('/')}/bot{token}/"
        self._proxy = proxy_for(api_base)
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, allowed: float | None = None, **params: Any) -> Any:
        """Calls `method` (within `allowed` seconds); returns `result` or raises TelegramError."""
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
            raise TelegramError(f"{method}: network error: {exc!r}") from None
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise TelegramError(
                f"{method}: HTTP {response.status}, not JSON", code=response.status
            ) from None
        if answer.get("ok"):
            return answer.get("result")
        parameters = answer.get("parameters") or {}
        raise TelegramError(
            f"{method}: {answer.get('description', 'error')}",
            code=int(answer.get("error_code") or response.status),
            retry_after=parameters.get("retry_after"),
            migrate_to=parameters.get("migrate_to_chat_id"),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
