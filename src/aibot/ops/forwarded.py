"""The client's address and scheme, as seen by a trusted reverse proxy (`server.trusted_proxies`).

`X-Forwarded-For` and `X-Forwarded-Proto` are set by whoever sends the request, so they are read
only when the TCP peer is a configured proxy (none by default; `ai-bot deploy nginx` and
`deploy/install.sh` configure their own nginx). Then the address is the right-most entry that is
not itself a trusted proxy — the one the first trusted proxy saw — and earlier entries, which the
client wrote, are ignored. Done once, here, for every route: the console's lockout and audit
log, the page's and the APIs' rate limits and the WebSocket origin check all read
`scope["client"]` and `scope["scheme"]`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SCHEMES = {"http": {"http": "http", "https": "https"}, "websocket": {"http": "ws", "https": "wss"}}


def networks(values: Sequence[str]) -> list[Network]:
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _trusted(value: str, trusted: Sequence[Network]) -> bool:
    address = _address(value)
    return address is not None and any(address in net for net in trusted)


def _header(scope: Scope, name: bytes) -> list[str]:
    """Every comma-separated entry of every `name` header, in order."""
    return [
        entry.strip()
        for key, value in scope["headers"]
        if key == name
        for entry in value.decode("latin-1").split(",")
    ]


def forwarded_client(scope: Scope, trusted: Sequence[Network]) -> Scope:
    """`scope` with the client and scheme the trusted proxies report; unchanged otherwise."""
    client = scope.get("client")
    if not trusted or not client or not _trusted(client[0], trusted):
        return scope
    changed = dict(scope)
    chain = _header(scope, b"x-forwarded-for")
    for entry in reversed(chain):
        if _address(entry) is None:
            break  # a malformed hop: trust nothing further left
        changed["client"] = (str(_address(entry)), 0)
        if not _trusted(entry, trusted):
            break
    protos = _header(scope, b"x-forwarded-proto")
    scheme = _SCHEMES.get(scope["type"], {}).get(protos[-1].lower() if protos else "")
    if scheme is not None:
        changed["scheme"] = scheme
    return changed


class TrustedProxies:
    def __init__(self, app: ASGIApp, trusted: Sequence[str]) -> None:
        self.app = app
        self.trusted = networks(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket"):
            scope = forwarded_client(scope, self.trusted)
        await self.app(scope, receive, send)
