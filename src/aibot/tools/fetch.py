"""`fetch_url`: reads a page from an allowed host, for the model, without becoming a way into
the gateway's own network.

A URL the model (or a user talking to it) chose is fetched only when its host is listed in
`tools.fetch.allowed_hosts`, and only from public addresses: the name is resolved by the
gateway, every address is checked (loopback, private, link-local such as the cloud metadata
address 169.254.169.254, shared, reserved, multicast are refused), and the connection goes to
the checked address itself, so a second DNS answer cannot swap it (rebinding). Redirects are
followed by hand, each one checked the same way. The body is bounded in bytes and time, read
as text, and HTML is reduced to its visible text. No proxy is used: a proxy would resolve the
name itself, out of reach of the check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from aibot.config import FetchConfig
from aibot.core.messages import Tool
from aibot.core.tools import ToolCaller
from aibot.tools.base import LocalTool, ToolFailed
from aibot.tools.html_text import html_to_text

if TYPE_CHECKING:
    import aiohttp

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Lookup = Callable[[str, int], Awaitable[list[str]]]  # (host, port) → addresses
Refused = Callable[[Address], bool]

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/xhtml+xml")


def refused_address(address: Address) -> bool:
    """Anything but a public unicast address: loopback, private, link-local, CGNAT, reserved,
    multicast, unspecified, and IPv4 hidden in IPv6 (mapped, 6to4, Teredo) judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if inner is not None:
            return refused_address(inner)
    return not address.is_global or address.is_multicast


async def system_lookup(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def host_allowed(host: str, allowed: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower().rstrip(".")
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


class Fetcher:
    def __init__(
        self,
        config: FetchConfig,
        *,
        lookup: Lookup = system_lookup,
        refused: Refused = refused_address,
    ) -> None:
        self._config = config
        self._lookup = lookup
        self._refused = refused

    def _check(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.scheme not in ("http", "https") or not host:
            raise ToolFailed("only http and https URLs are fetched")
        if parts.username or parts.password:
            raise ToolFailed("URLs with credentials are not fetched")
        try:
            literal: Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None and self._refused(literal):
            raise ToolFailed(f"{host} is not a public address; refused")
        if not host_allowed(host, self._config.allowed_hosts):
            raise ToolFailed(f"{host} is not in tools.fetch.allowed_hosts")
        return url

    async def _public_addresses(self, host: str, port: int) -> list[Address]:
        """`host`'s addresses, refusing a name any of whose addresses is not public."""
        try:
            found = await self._lookup(host, port)
        except OSError:
            raise ToolFailed(f"cannot resolve {host}") from None
        addresses = [ipaddress.ip_address(a.split("%")[0]) for a in found]
        if not addresses or any(self._refused(a) for a in addresses):
            raise ToolFailed(f"{host} resolves to an address that is not public; refused")
        return addresses

    async def fetch(self, url: str) -> str:
        import aiohttp  # at the first fetch, not at start

        from aibot.tools.checked_resolver import CheckedResolver

        connector = aiohttp.TCPConnector(
            resolver=CheckedResolver(self._public_addresses), use_dns_cache=False
        )
        timeout = aiohttp.ClientTimeout(total=self._config.timeout)
        try:
            async with aiohttp.ClientSession(
                connector=connector, timeout=timeout, trust_env=False
            ) as http:
                return await self._follow(http, url)
        except TimeoutError:
            raise ToolFailed(f"no answer within {self._config.timeout:g} s") from None
        except aiohttp.ClientError as exc:
            raise ToolFailed(f"fetch failed: {type(exc).__name__}") from None

    async def _follow(self, http: aiohttp.ClientSession, url: str) -> str:
        for _ in range(self._config.max_redirects + 1):
            async with http.get(
                self._check(url), allow_redirects=False, headers={"User-Agent": "ai-bot"}
            ) as response:
                if response.status in (301, 302, 303, 307, 308):
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                if response.status >= 400:
                    raise ToolFailed(f"HTTP {response.status}")
                return await self._read(response)
        raise ToolFailed("too many redirects")

    async def _read(self, response: aiohttp.ClientResponse) -> str:
        kind = response.content_type or "text/plain"
        if not kind.startswith(_TEXT_TYPES):
            raise ToolFailed(f"not a text page ({kind})")
        limit = self._config.max_bytes
        body = await response.content.read(limit + 1)
        cut = len(body) > limit
        text = body[:limit].decode(response.charset or "utf-8", "replace")
        if "html" in kind:
            text = html_to_text(text)
        return text + ("\n…[cut]" if cut else "")


def fetch_url_tool(fetcher: Fetcher) -> LocalTool:
    async def run(arguments: dict[str, Any], _caller: ToolCaller) -> str:
        url = arguments.get("url")
        if not isinstance(url, str) or len(url) > 2000:
            raise ToolFailed("`url` (a string of at most 2000 characters) is required")
        return await fetcher.fetch(url)

    return LocalTool(
        Tool(
            "fetch_url",
            "Reads a web page (text; HTML reduced to its visible text) from an allowed site.",
            {
                "type": "object",
                "properties": {"url": {"type": "string", "description": "http(s) URL"}},
                "required": ["url"],
            },
        ),
        run,
    )
