"""Headers every HTML response carries, whichever route made it (the chat page, the console,
the API docs): no other site may frame it (`X-Frame-Options: DENY` and CSP `frame-ancestors
'none'` — a `<meta>` CSP cannot say this, so it must be a header), and the browser must not
guess another type. With an https `public_url`, every response also tells the browser to use
https only (HSTS), so a later visit cannot be downgraded on the way.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FRAME_ANCESTORS = "frame-ancestors 'none'"
HSTS = "max-age=31536000"


class PageHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(scope=message)
                if headers.get("content-type", "").startswith("text/html"):
                    _no_framing(headers)
                if self.hsts and "strict-transport-security" not in headers:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        await self.app(scope, receive, stamped)


def _no_framing(headers: MutableHeaders) -> None:
    headers["X-Frame-Options"] = "DENY"
    headers.setdefault("X-Content-Type-Options", "nosniff")
    policy = headers.get("content-security-policy")
    if policy is None:
        headers["Content-Security-Policy"] = FRAME_ANCESTORS
    elif "frame-ancestors" not in policy:
        headers["Content-Security-Policy"] = f"{policy.rstrip('; ')}; {FRAME_ANCESTORS}"
