"""The provider's calls through aiohttp, for a provider the lean pool does not take: one behind
an outbound proxy (`HTTPS_PROXY`/`HTTP_PROXY`, resolved once by `proxy_for`), or whose base URL
carries credentials or a query. Its answers look like `lean_http.Answer`s and its failures are
raised as the lean pool's, so the provider has one way of reading and mapping both.

aiohttp (~20 MB, its TLS contexts) is imported with this module, which the provider imports at
its first call only when it needs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp

from aibot.providers.lean_http import BodyCutOff, LeanHttpError


class AiohttpAnswer:
    """An aiohttp response, read the way `lean_http.Answer` is."""

    __slots__ = ("_response", "headers", "status")

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers = response.headers

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except aiohttp.ClientError as exc:
            raise LeanHttpError(str(exc)) from None

    async def lines(self) -> AsyncIterator[bytes]:
        try:
            async for line in self._response.content:
                yield line
        except aiohttp.ClientPayloadError as exc:
            raise BodyCutOff(str(exc)) from None
        except aiohttp.ClientError as exc:
            raise LeanHttpError(str(exc)) from None

    def release(self) -> None:
        self._response.release()


class AiohttpTransport:
    """One pooled aiohttp session for one provider, made at its first call."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        limit: int,
        timeout: float,
        connect_timeout: float,
        proxy: str | None,
    ) -> None:
        self._base_url = base_url
        self._proxy = proxy
        self._connect_timeout = connect_timeout
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=limit, ttl_dns_cache=300, enable_cleanup_closed=True
            ),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout, connect=connect_timeout),
            skip_auto_headers=("User-Agent",),
        )

    @property
    def closed(self) -> bool:
        return self._session.closed

    async def send(
        self, method: str, path: str, body: bytes | None, *, deadline: float, stream: bool
    ) -> AiohttpAnswer:
        """As `LeanPool.send`; aiohttp reads the body when it is asked for, either way."""
        remaining = deadline - asyncio.get_running_loop().time()
        timeout = aiohttp.ClientTimeout(total=remaining, connect=self._connect_timeout)
        try:
            response = await self._session.request(
                method, f"{self._base_url}{path}", data=body, proxy=self._proxy, timeout=timeout
            )
        except aiohttp.ClientError as exc:
            raise LeanHttpError(str(exc)) from None
        return AiohttpAnswer(response)

    async def close(self) -> None:
        await self._session.close()
