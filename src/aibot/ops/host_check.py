"""Refuses requests whose `Host` is not one of the gateway's own names (`server.allowed_hosts`).

Without it a site can point a name it controls at 127.0.0.1 (DNS rebinding) and its page, now
"same-origin" with the gateway as far as the browser knows, could use the open loopback web
page and read any answer. A browser always sends the name it resolved as `Host`, so a request
for a name the gateway does not own is refused with 421 Misdirected Request — WebSocket upgrades
too — before any route runs. The health probes and `/metrics` stay reachable by any name
(orchestrators probe a pod by its IP, Prometheus scrapes it by service name).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

import orjson
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from aibot.i18n import pick, translate

log = structlog.get_logger("aibot.host_check")

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
_LOGGED_MAX = 20  # distinct refused names logged, so a flood cannot fill the log
_SEEN_MAX = 256  # allowed raw `Host` values remembered (bounded, whoever sends them)


def host_name(value: str) -> str:
    """`Host` without its port, lower-case, without a trailing dot; IPv6 without brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        value = value.split(":", 1)[0]
    return value.rstrip(".")


def allowed_hosts(
    configured: Iterable[str] | None, bind_host: str, public_url: str | None
) -> frozenset[str] | None:
    """The names requests may carry, or None for no check (`*` in `server.allowed_hosts`).

    Always the loopback names (only a page served from loopback itself can send them), the
    host of `public_url`, the bound address when it is one, and whatever is configured.
    """
    names = list(configured or ())
    if "*" in names:
        return None
    names += LOOPBACK_NAMES
    if public_url:
        names.append(urlsplit(public_url).hostname or "")
    if bind_host not in ("", "0.0.0.0", "::"):
        names.append(bind_host)
    return frozenset(host_name(n) for n in names if n.strip())


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """`host` is listed, or under a listed `*.example.com`; IP literals only as listed."""
    if host in allowed:
        return True
    try:
        ipaddress.ip_address(host)
        return False
    except ValueError:
        pass
    parts = host.split(".")
    return any(f"*.{'.'.join(parts[i:])}" in allowed for i in range(1, len(parts)))


class HostCheck:
    def __init__(self, app: ASGIApp, allowed: frozenset[str] | None) -> None:
        self.app = app
        self.allowed = allowed
        self._logged: set[str] = set()
        # Allowed raw `Host` values: a client sends the same one on every request, so it is
        # parsed and matched once (it showed in the per-message profile).
        self._seen: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.allowed is None
            or scope["type"] not in ("http", "websocket")
            or scope["path"] in PROBES
        ):
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope["headers"] if k == b"host"), b"")
        if raw in self._seen:
            await self.app(scope, receive, send)
            return
        host = host_name(raw.decode("latin-1"))
        if host and host_allowed(host, self.allowed):
            if len(self._seen) < _SEEN_MAX:
                self._seen.add(raw)
            await self.app(scope, receive, send)
            return
        self._log_once(host)
        await _refuse(scope, send, host)

    def _log_once(self, host: str) -> None:
        if host in self._logged or len(self._logged) >= _LOGGED_MAX:
            return
        self._logged.add(host)
        log.warning(
            "request for a host name this gateway does not serve refused (421); if it is "
            "yours, add it to server.allowed_hosts or set server.public_url",
            host=host[:200],
        )


async def _refuse(scope: Scope, send: Send, host: str) -> None:
    accept = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
    message = translate(
        pick(accept.decode("latin-1")),
        "This gateway does not serve the host name '{host}'. If it is yours, add it to "
        "server.allowed_hosts in config.yaml.",
        host=host[:200],
    )
    body = orjson.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "misdirected_request",
            }
        }
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 421, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif "websocket.http.response" in scope.get("extensions", {}):
        await send({"type": "websocket.http.response.start", "status": 421, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1008})  # the server answers 403
