"""The resolver `fetch_url` connects through: it hands aiohttp the addresses `Fetcher` has
already checked, as numeric hosts, so the connection goes to a checked address and a second DNS
answer cannot swap it. Its own module because it subclasses aiohttp's `AbstractResolver`:
`tools/fetch.py` imports it, and aiohttp with it, at the first fetch rather than at start."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable

from aiohttp.abc import AbstractResolver, ResolveResult

# (host, port) → its addresses, every one public, or ToolFailed
CheckedLookup = Callable[[str, int], Awaitable[list[ipaddress.IPv4Address | ipaddress.IPv6Address]]]


class CheckedResolver(AbstractResolver):
    def __init__(self, lookup: CheckedLookup) -> None:
        self._lookup = lookup

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=str(a),
                port=port,
                family=socket.AF_INET6 if a.version == 6 else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for a in await self._lookup(host, port)
        ]

    async def close(self) -> None:
        return None
