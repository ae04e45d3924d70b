"""DingTalk's OpenAPI on one pooled aiohttp session: the app access token, the Stream ticket,
the robot send APIs and session webhooks, with DingTalk's errors made explicit.

The access token (`/v1.0/oauth2/accessToken`, valid `expireIn` seconds, 7200) is cached and
renewed five minutes early, fetched by one caller at a time; a request the platform refuses
as unauthenticated gets one fresh token and one more try. Failures raise `PlatformError`
(`code` is DingTalk's code string), permanent unless the network, a 5xx or throttling caused it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from aibot.channels.errors import PlatformError
from aibot.ops.proxy import proxy_for

TOKEN_PATH = "/v1.0/oauth2/accessToken"  # noqa: S105 - a path
OPEN_CONNECTION_PATH = "/v1.0/gateway/connections/open"
TOKEN_HEADER = "x-acs-dingtalk-access-token"  # noqa: S105 - a header name
TOKEN_MARGIN = 300.0  # renew this long before DingTalk says the token expires
_AUTH_CODES = frozenset({"InvalidAuthentication", "invalidAuthentication"})
_THROTTLE_CODES = ("Throttling", "QpsLimit", "Forbidden.AccessDenied.QpsLimit")
# Session / custom robot errcodes that mean "too many messages": 20 a minute, then 10 min off.
WEBHOOK_THROTTLED = frozenset({130101, 410100})


def unauthenticated(exc: PlatformError) -> bool:
    return exc.status == 401 or exc.code in _AUTH_CODES


def throttled(exc: PlatformError) -> bool:
    code = exc.code if isinstance(exc.code, str) else ""
    return exc.status == 429 or any(code.startswith(c) for c in _THROTTLE_CODES)


def _refused(
    message: str, status: int, code: str | None, retry_after: float | None
) -> PlatformError:
    """Network trouble, 5xx and throttling pass; other refusals would fail again."""
    error = PlatformError(message, status=status, code=code, retry_after=retry_after)
    error.permanent = status < 500 and not throttled(error)
    return error


class DingtalkApi:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        api_base: str,
        *,
        timeout: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id = client_id
        self._secret = client_secret
        self._base = api_base.rstrip("/")
        self._proxy = proxy_for(api_base)
        self.base_url = self._base  # downloads (media.py) trust its host
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, float] | None = None  # (token, monotonic renewal time)
        self._token_lock = asyncio.Lock()
        self._clock = clock

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(
        self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> Any:
        """POSTs JSON; returns the decoded answer of a 2xx, else raises PlatformError."""
        what = url.split("?", 1)[0].rsplit("/", 2)[-2:]
        try:
            async with self.session.post(
                url,
                data=orjson.dumps(body),
                proxy=self._proxy if url.startswith(self._base) else proxy_for(url),
                headers={"Content-Type": "application/json", **(headers or {})},
                timeout=self._timeout,
            ) as response:
                raw = await response.read()
                retry_after = response.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PlatformError(f"{'/'.join(what)}: network error: {exc!r}") from None
        try:
            answer = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            answer = None
        if 200 <= response.status < 300 and answer is not None:
            return answer
        fields = answer if isinstance(answer, dict) else {}
        code = fields.get("code")
        raise _refused(
            f"{'/'.join(what)}: HTTP {response.status} {code or ''} "
            f"{fields.get('message', '')}".rstrip(),
            response.status,
            str(code) if code else None,
            _seconds(retry_after),
        )

    async def access_token(self, *, renew: bool = False) -> str:
        async with self._token_lock:
            if self._token is not None and not renew and self._clock() < self._token[1]:
                return self._token[0]
            answer = await self.post(
                self._base + TOKEN_PATH, {"appKey": self.client_id, "appSecret": self._secret}
            )
            token, ttl = str(answer["accessToken"]), float(answer.get("expireIn", 7200))
            self._token = (token, self._clock() + max(ttl - TOKEN_MARGIN, ttl / 2))
            return token

    async def call(self, path: str, body: dict[str, Any]) -> Any:
        """An authenticated OpenAPI call; a refused token is renewed once and the call retried."""
        for renew in (False, True):
            token = await self.access_token(renew=renew)
            try:
                return await self.post(self._base + path, body, {TOKEN_HEADER: token})
            except PlatformError as exc:
                if renew or not unauthenticated(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def open_connection(
        self, subscriptions: list[dict[str, str]], ua: str
    ) -> tuple[str, str]:
        """Asks for a Stream endpoint and a one-time ticket (PROTOCOLS §4.2)."""
        answer = await self.post(
            self._base + OPEN_CONNECTION_PATH,
            {
                "clientId": self.client_id,
                "clientSecret": self._secret,
                "subscriptions": subscriptions,
                "ua": ua,
                "localIp": "",
            },
        )
        return str(answer["endpoint"]), str(answer["ticket"])

    async def post_webhook(self, url: str, body: dict[str, Any]) -> None:
        """POSTs to a session webhook; an `errcode` other than 0 raises PlatformError."""
        answer = await self.post(url, body)
        errcode = answer.get("errcode", 0) if isinstance(answer, dict) else 0
        if errcode:
            limited = errcode in WEBHOOK_THROTTLED
            raise PlatformError(
                f"session webhook: errcode {errcode} {answer.get('errmsg', '')}",
                status=200,
                code=str(errcode),
                retry_after=60.0 if limited else None,
                permanent=not limited,
            )


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
