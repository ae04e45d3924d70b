"""What every console page shares: the request it handles, the page table's rows, the console's
parts (accounts, sessions, audit, templates) and how a page is rendered, refused or left.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from aibot import i18n
from aibot.admin.auth import AdminAuth, Principal, allowed
from aibot.admin.gateway_view import GatewayView
from aibot.admin.keys import ApiKeyStore
from aibot.admin.lockout import Lockout
from aibot.admin.policy_edit import rate_text
from aibot.admin.roles import Role
from aibot.admin.sessions import Sessions
from aibot.admin.users import AdminUsers
from aibot.admin.words import _, action, channel, channel_names, code, detail, shown
from aibot.config import AdminConfig
from aibot.ops.gc_tuning import settle_after_build
from aibot.ops.pii import mask_pii
from aibot.store.audit import AuditLog
from aibot.store.series import SeriesReader

if TYPE_CHECKING:
    from jinja2 import Environment

HERE = Path(__file__).parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Call:
    """One authorised request: who made it and, for a POST, its form fields."""

    request: Request
    who: Principal
    form: dict[str, str]


Handler = Callable[[Call], Awaitable[Response]]


@dataclass(frozen=True)
class AdminRoute:
    method: str
    path: str
    role: Role
    handler: Handler


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "—"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form body; anything malformed reads as an empty form (then a 4xx)."""
    try:
        fields = parse_qs((await request.body()).decode(), max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {name: values[0] for name, values in fields.items()}


def secured(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


class ConsoleBase:
    def __init__(
        self,
        gateway: GatewayView,
        config: AdminConfig,
        *,
        public_url: str | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        engine = gateway.engine
        self.gateway = gateway
        self.config = config
        self.clock = clock
        self.users = AdminUsers(engine, gateway.cipher)
        self.audit = AuditLog(engine)
        self.api_keys = ApiKeyStore(engine)
        self.history = SeriesReader(engine)  # the dashboard's charts
        self.auth = AdminAuth(
            self.users,
            Sessions(engine, config.session_ttl),
            self.audit,
            Lockout(engine, config.lockout_attempts, config.lockout_minutes * 60, clock),
            secure_cookies=(public_url or "").startswith("https://"),
            clock=clock,
        )
        self._config_edit = asyncio.Lock()  # one write-reload-restore at a time

    @functools.cached_property
    def templates(self) -> Environment:
        """The pages' templates: Jinja is imported for the first page shown, not at start."""
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        templates = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
        )
        templates.globals["_"] = _
        templates.globals["code"] = code
        templates.globals["channel_names"] = channel_names
        templates.filters["when"] = _when
        templates.filters["rate"] = rate_text
        templates.filters["shown"] = shown
        templates.filters["channel"] = channel
        templates.filters["detail"] = detail
        templates.filters["action"] = action
        settle_after_build()  # Jinja stays for good: out of later collections
        return templates

    def render(
        self, name: str, who: Principal | None, status: int = 200, **context: Any
    ) -> Response:
        html = self.templates.get_template(name).render(
            who=who,
            csrf=who.session.csrf if who else "",
            can_operate=bool(who and allowed(who, Role.OPERATOR)),
            is_admin=bool(who and allowed(who, Role.ADMIN)),
            lang=i18n.request_language(),
            **context,
        )
        return secured(HTMLResponse(html, status))

    def error(self, who: Principal | None, status: int, message: str) -> Response:
        return self.render("error.html", who, status, message=message)

    def mask(self, text: str) -> str:
        return mask_pii(self.gateway.mask_secrets(text))

    async def masked(self, texts: Sequence[str]) -> list[str]:
        """`mask` over many texts in a worker thread: masking a long message takes CPU time
        that must not hold up the event loop (health checks, every other request)."""
        return await asyncio.to_thread(lambda: [self.mask(text) for text in texts])

    async def _back(self, call: Call, page: str, action: str, target: str) -> Response:
        await self.audit.record(call.who.audit(action, target))
        return secured(RedirectResponse(page, 303))

    async def _by_id(
        self, call: Call, param: str, action: Callable[[int, float], Awaitable[Any]]
    ) -> Any:
        row_id = path_int(call.request.path_params.get(param))
        return None if row_id is None else await action(row_id, self.clock())


def path_int(value: object) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None
