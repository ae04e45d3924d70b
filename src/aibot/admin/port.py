"""`admin.port`: the console on its own port, and only there.

One server listens on both ports (same app, same gateway); this middleware sends /admin
requests that arrive on the main port, and everything else that arrives on the admin port,
to a plain 404 — so a firewall rule on the admin port really does cover the whole console.
"""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send


def is_admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


class AdminPortSplit:
    def __init__(self, app: ASGIApp, admin_port: int) -> None:
        self.app = app
        self.admin_port = admin_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            server = scope.get("server") or ("", 0)
            on_admin_port = server[1] == self.admin_port
            if on_admin_port != is_admin_path(scope["path"]):
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                await PlainTextResponse("Not Found", 404)(scope, receive, send)
                return
        await self.app(scope, receive, send)
