"""Who may use the web chat: same-origin pages only.

Browsers always send `Origin` on WebSocket upgrades, and let any site open a WebSocket to
127.0.0.1; a page of another origin is refused. Other clients may omit the header. The access
key (when the page is reachable from the network) is checked by `channels/api_keys.py`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import WebSocket


def same_origin(websocket: WebSocket) -> bool:
    origin = websocket.headers.get("origin")
    if not origin:
        return True
    return urlsplit(origin).netloc.lower() == websocket.headers.get("host", "").lower()
