"""Who may use the web chat: same-origin pages only.

Browsers always send `Origin` on WebSocket upgrades, and let any site open a WebSocket to
127.0.0.1; a page of another origin is refused. An origin is scheme, host and port: the page of
`https://host` is not the page of `http://host`. Behind a TLS proxy the socket arrives as plain
`ws`, so the origin of `server.public_url` is the page's own too (a proxy listed in
`server.trusted_proxies` also reports the scheme). Other clients may omit the header. The access
key (when the page is reachable from the network) is checked by `channels/api_keys.py`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection


def same_origin(websocket: HTTPConnection, public_url: str | None = None) -> bool:
    """For the WebSocket and the page's uploads alike."""
    origin = websocket.headers.get("origin")
    if not origin:
        return True
    parts = urlsplit(origin.strip())
    claimed = (parts.scheme.lower(), parts.netloc.lower())
    own_scheme = "https" if websocket.url.scheme in ("wss", "https") else "http"
    if claimed == (own_scheme, websocket.headers.get("host", "").lower()):
        return True
    public = urlsplit(public_url or "")
    return bool(public.netloc) and claimed == (public.scheme.lower(), public.netloc.lower())
