"""The console's pages and actions. Each one is declared with the least role it needs.

`AdminConsole.routes()` is the single table of what the console can do; every entry is
wrapped by `_guarded`, which checks the session, the CSRF token of state-changing requests and
the role before the handler runs. The unit tests walk that same table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import orjson
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from aibot.admin.audit import AuditLog
from aibot.admin.auth import (
    LOGIN_COOKIE,
    AdminAuth,
    LoginRefused,
    Principal,
    allowed,
    new_login_token,
    tokens_match,
)
from aibot.admin.gateway_view import GatewayView
from aibot.admin.inputs import printable
from aibot.admin.keys import SCOPES, ApiKeyStore
from aibot.admin.lockout import Lockout
from aibot.admin.policy_edit import (
    changes,
    describe,
    parse_form,
    rate_text,
    word_sources,
    write_policy,
)
from aibot.admin.port import AdminPortSplit
from aibot.admin.records import (
    dead_letters,
    retry_dead_letter,
    search_conversations,
    transcript,
)
from aibot.admin.roles import Role
from aibot.admin.sessions import Sessions
from aibot.admin.stats import provider_counts, snapshot
from aibot.admin.users import NAME_MAX, AdminUsers
from aibot.config import AdminConfig
from aibot.config.edit import edit_config, restore
from aibot.config.edit import section as yaml_section
from aibot.ops.pii import mask_pii
from aibot.store.quality import arm_stats, csat_by_day

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
MAX_KEY_DAYS = 3650
QUALITY_WINDOW = 7 * 86400.0  # the models page compares providers over the last week


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


class AdminConsole:
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
        self.users = AdminUsers(engine)
        self.audit = AuditLog(engine)
        self.api_keys = ApiKeyStore(engine)
        self.auth = AdminAuth(
            self.users,
            Sessions(engine, config.session_ttl),
            self.audit,
            Lockout(engine, config.lockout_attempts, config.lockout_minutes * 60, clock),
            secure_cookies=(public_url or "").startswith("https://"),
            trusted_proxies=config.trusted_proxies,
            clock=clock,
        )
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
        )
        self.templates.filters["when"] = _when
        self.templates.filters["rate"] = rate_text
        self._config_edit = asyncio.Lock()  # one write-reload-restore at a time

    def routes(self) -> list[AdminRoute]:
        viewer, operator, admin = Role.VIEWER, Role.OPERATOR, Role.ADMIN
        return [
            AdminRoute("GET", "/admin", viewer, self.dashboard),
            AdminRoute("GET", "/admin/api/stats", viewer, self.stats),
            AdminRoute("GET", "/admin/conversations", viewer, self.conversations),
            AdminRoute("GET", "/admin/conversation", viewer, self.conversation),
            AdminRoute("GET", "/admin/conversation/export", viewer, self.export),
            AdminRoute("GET", "/admin/channels", viewer, self.channels),
            AdminRoute("POST", "/admin/channels/{name}/pause", operator, self.pause_channel),
            AdminRoute("POST", "/admin/channels/{name}/resume", operator, self.resume_channel),
            AdminRoute("GET", "/admin/models", viewer, self.models),
            AdminRoute("POST", "/admin/models/default", operator, self.switch_model),
            AdminRoute("POST", "/admin/models/canary", operator, self.set_canary),
            AdminRoute("GET", "/admin/keys", viewer, self.keys),
            AdminRoute("POST", "/admin/keys", operator, self.create_key),
            AdminRoute("POST", "/admin/keys/{key_id}/revoke", operator, self.revoke_key),
            AdminRoute("POST", "/admin/keys/{key_id}/rotate", operator, self.rotate_key),
            AdminRoute("GET", "/admin/policies", viewer, self.policies),
            AdminRoute("POST", "/admin/policies", operator, self.edit_policies),
            AdminRoute("GET", "/admin/dead-letters", viewer, self.dead_letters),
            AdminRoute("POST", "/admin/dead-letters/{row_id}/retry", operator, self.retry),
            AdminRoute("GET", "/admin/audit", viewer, self.audit_page),
            AdminRoute("GET", "/admin/users", admin, self.users_page),
            AdminRoute("POST", "/admin/users/{user_id}/signout", admin, self.sign_out_user),
            AdminRoute("POST", "/admin/logout", viewer, self.logout),
        ]

    def mount(self, app: FastAPI) -> None:
        router = APIRouter(include_in_schema=False)
        router.add_api_route("/admin/login", self.login_page, methods=["GET"])
        router.add_api_route("/admin/login", self.login, methods=["POST"])
        for route in self.routes():
            router.add_api_route(route.path, self._guarded(route), methods=[route.method])
        app.include_router(router)
        app.state.admin_console = self
        if self.config.port is not None:
            app.add_middleware(AdminPortSplit, admin_port=self.config.port)
        app.mount("/admin/static", StaticFiles(directory=HERE / "static"), name="admin-static")

    def _guarded(self, route: AdminRoute) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            who = await self.auth.current(request)
            if who is None:
                if route.method == "GET" and not route.path.startswith("/admin/api/"):
                    return secured(RedirectResponse("/admin/login", 303))
                return self.error(None, 401, "Sign in first.")
            form: dict[str, str] = {}
            if route.method != "GET":
                form = await read_form(request)
                presented = form.get("csrf") or request.headers.get("x-csrf-token")
                if not tokens_match(who.session.csrf, presented):
                    return self.error(
                        who,
                        403,
                        "This form expired or did not come "
                        "from the console. Reload the page and try again.",
                    )
            if not allowed(who, route.role):
                return self.error(
                    who,
                    403,
                    f"Your role ({who.user.role.label}) "
                    f"cannot do this; it needs {route.role.label}.",
                )
            return await route.handler(Call(request, who, form))

        return endpoint

    # -- rendering -----------------------------------------------------------------------
    def render(
        self, name: str, who: Principal | None, status: int = 200, **context: Any
    ) -> Response:
        html = self.templates.get_template(name).render(
            who=who,
            csrf=who.session.csrf if who else "",
            can_operate=bool(who and allowed(who, Role.OPERATOR)),
            is_admin=bool(who and allowed(who, Role.ADMIN)),
            **context,
        )
        return secured(HTMLResponse(html, status))

    def error(self, who: Principal | None, status: int, message: str) -> Response:
        return self.render("error.html", who, status, message=message)

    def mask(self, text: str) -> str:
        return mask_pii(self.gateway.mask_secrets(text))

    async def _back(self, call: Call, page: str, action: str, target: str) -> Response:
        await self.audit.record(call.who.audit(action, target))
        return secured(RedirectResponse(page, 303))

    # -- login ---------------------------------------------------------------------------
    async def login_page(self, request: Request) -> Response:
        if await self.auth.current(request) is not None:
            return secured(RedirectResponse("/admin", 303))
        return await self._login_form(request, None, 200)

    async def _login_form(self, request: Request, error: str | None, status: int) -> Response:
        token = request.cookies.get(LOGIN_COOKIE) or new_login_token()
        response = self.render(
            "login.html",
            None,
            status,
            error=error,
            login_csrf=token,
            no_users=await self.users.count() == 0,
        )
        self.auth.set_login_cookie(response, token)
        return response

    async def login(self, request: Request) -> Response:
        form = await read_form(request)
        if not tokens_match(request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf")):
            return await self._login_form(request, "The login form expired; try again.", 403)
        result = await self.auth.login(
            form.get("name", ""),
            form.get("password", ""),
            form.get("code", ""),
            self.auth.client_ip(request),
        )
        if isinstance(result, LoginRefused):
            return await self._login_form(request, result.message, result.status)
        token, _who = result
        response = secured(RedirectResponse("/admin", 303))
        self.auth.set_session_cookie(response, token)
        return response

    async def logout(self, call: Call) -> Response:
        await self.auth.logout(call.who)
        response = secured(RedirectResponse("/admin/login", 303))
        self.auth.clear_session_cookie(response)
        return response

    # -- pages ---------------------------------------------------------------------------
    async def dashboard(self, call: Call) -> Response:
        return self.render(
            "dashboard.html", call.who, page="dashboard", stats=snapshot(self.gateway.metrics)
        )

    async def stats(self, _call: Call) -> Response:
        return secured(
            Response(orjson.dumps(snapshot(self.gateway.metrics)), media_type="application/json")
        )

    async def conversations(self, call: Call) -> Response:
        query = call.request.query_params.get("q", "")
        found = await search_conversations(self.gateway.engine, query)
        return self.render(
            "conversations.html",
            call.who,
            page="conversations",
            query=query,
            found=found,
            mask=self.mask,
            quote=quote,
        )

    async def conversation(self, call: Call) -> Response:
        key = call.request.query_params.get("key", "")
        turns = await transcript(self.gateway.engine, key)
        if not turns:
            return self.error(call.who, 404, "No conversation with that key.")
        return self.render(
            "conversation.html",
            call.who,
            page="conversations",
            key=key,
            turns=turns,
            mask=self.mask,
            quote=quote,
        )

    async def export(self, call: Call) -> Response:
        key = call.request.query_params.get("key", "")
        turns = await transcript(self.gateway.engine, key)
        if not turns:
            return self.error(call.who, 404, "No conversation with that key.")
        await self.audit.record(call.who.audit("conversation.export", key))
        body = orjson.dumps(
            {
                "session_key": key,
                "turns": [
                    {
                        "role": t.role,
                        "content": self.mask(t.content),
                        "provider": t.provider,
                        "created_at": t.created_at,
                    }
                    for t in turns
                ],
            },
            option=orjson.OPT_INDENT_2,
        )
        return secured(
            Response(
                body,
                media_type="application/json",
                headers={"Content-Disposition": 'attachment; filename="conversation.json"'},
            )
        )

    async def channels(self, call: Call) -> Response:
        readiness = await self.gateway.readiness()
        return self.render(
            "channels.html",
            call.who,
            page="channels",
            readiness=readiness,
            pausable=self.gateway.queued_channels(),
        )

    async def pause_channel(self, call: Call) -> Response:
        return await self._set_paused(call, paused=True)

    async def resume_channel(self, call: Call) -> Response:
        return await self._set_paused(call, paused=False)

    async def _set_paused(self, call: Call, *, paused: bool) -> Response:
        """Only channels whose messages go through the inbox (those with an outbox sender)."""
        name = str(call.request.path_params.get("name", ""))
        if name not in self.gateway.queued_channels():
            return self.error(
                call.who,
                404,
                "No pausable channel with that name (web and api "
                "answer directly and cannot be paused).",
            )
        if paused:
            await self.gateway.pause_channel(name)
            return await self._back(call, "/admin/channels", "channel.pause", name)
        started = await self.gateway.resume_channel(name)
        return await self._back(
            call,
            "/admin/channels",
            "channel.resume",
            f"{name} ({started} pending message(s) scheduled)",
        )

    async def models(self, call: Call) -> Response:
        state = self.gateway.models()
        since = self.clock() - QUALITY_WINDOW
        counts = provider_counts(self.gateway.metrics.render().decode())
        quality = [
            replace(
                await arm_stats(self.gateway.engine, p.name, since),
                calls=counts.get(p.name, (0, 0))[0],
                errors=counts.get(p.name, (0, 0))[1],
            )
            for p in state.providers
        ]
        return self.render(
            "models.html",
            call.who,
            page="models",
            providers=state.providers,
            fallbacks=state.fallbacks,
            problems=state.problems,
            quality=quality,
            canary=state.canary,
            csat=await csat_by_day(self.gateway.engine, since),
        )

    async def switch_model(self, call: Call) -> Response:
        name = call.form.get("provider", "")
        if name not in {p.name for p in self.gateway.models().providers}:
            return self.error(call.who, 400, "No provider with that name.")
        previous = self.gateway.set_default_model(name)
        return await self._back(call, "/admin/models", "model.default", f"{previous} -> {name}")

    async def keys(self, call: Call, new_key: str | None = None) -> Response:
        rows = await self.api_keys.all()
        return self.render(
            "keys.html",
            call.who,
            page="keys",
            rows=rows,
            now=self.clock(),
            scopes=SCOPES,
            new_key=new_key,
        )

    async def create_key(self, call: Call) -> Response:
        days_text = call.form.get("expires_days", "").strip()
        try:
            days = float(days_text) if days_text else None
        except ValueError:
            days = -1.0
        if days is not None and not 0 < days <= MAX_KEY_DAYS:
            return self.error(
                call.who, 400, f"Expiry must be between 0 and {MAX_KEY_DAYS} days, or empty."
            )
        now = self.clock()
        try:
            key, row = await self.api_keys.create(
                call.form.get("name", ""),
                call.form.get("scope", ""),
                call.who.user.name,
                now,
                now + days * 86400 if days else None,
            )
        except ValueError as exc:
            return self.error(call.who, 400, str(exc))
        await self.gateway.refresh_api_keys()
        await self.audit.record(
            call.who.audit(
                "apikey.create", f"#{row.id} {row.prefix}… '{row.name}' scope={row.scope}"
            )
        )
        return await self.keys(call, new_key=key)

    async def revoke_key(self, call: Call) -> Response:
        row = await self._by_id(call, "key_id", self.api_keys.revoke)
        if row is None:
            return self.error(call.who, 404, "No active key with that id.")
        await self.gateway.refresh_api_keys()
        return await self._back(
            call, "/admin/keys", "apikey.revoke", f"#{row.id} {row.prefix}… '{row.name}'"
        )

    async def rotate_key(self, call: Call) -> Response:
        key_id = _int(call.request.path_params.get("key_id"))
        rotated = (
            None
            if key_id is None
            else await self.api_keys.rotate(key_id, call.who.user.name, self.clock())
        )
        if rotated is None:
            return self.error(call.who, 404, "No active key with that id.")
        key, new, old = rotated
        await self.gateway.refresh_api_keys()
        await self.audit.record(
            call.who.audit(
                "apikey.rotate", f"#{old.id} {old.prefix}… -> #{new.id} {new.prefix}… '{new.name}'"
            )
        )
        return await self.keys(call, new_key=key)

    async def policies(self, call: Call, problem: str | None = None, status: int = 200) -> Response:
        """What the running gateway enforces (the last config that loaded, not the file)."""
        loaded = self.gateway.reloader.loaded
        policy = loaded.config.policy
        return self.render(
            "policies.html",
            call.who,
            status,
            page="policies",
            policy=policy,
            sources=word_sources(policy),
            editable=loaded.path is not None,
            active_words=self.gateway.active_word_count(),
            problem=problem,
        )

    async def edit_policies(self, call: Call) -> Response:
        try:
            wanted = parse_form(call.form)
        except ValueError as exc:
            return await self.policies(call, str(exc), 400)
        current = self.gateway.reloader.loaded.config.policy
        edits = changes(current, wanted)
        if not edits:
            return secured(RedirectResponse("/admin/policies", 303))
        problem = await self._change_config(lambda path: write_policy(path, edits))
        if problem is not None:
            return await self.policies(call, problem, 409 if "read-only" in problem else 400)
        return await self._back(call, "/admin/policies", "policy.edit", describe(current, edits))

    async def _change_config(self, write: Callable[[Path], bytes]) -> str | None:
        """Writes config.yaml, then has the gateway reload it; if the reload refuses it, the
        file is put back. None when the change is live, else what went wrong."""
        reloader = self.gateway.reloader
        path = reloader.loaded.path
        if path is None:
            return "Running on defaults without a config.yaml: settings are read-only here."
        async with self._config_edit:
            try:
                previous = await asyncio.to_thread(write, path)
            except (OSError, ValueError) as exc:
                return f"Could not change the file: {exc}"
            if not await reloader.reload("admin console"):
                await asyncio.to_thread(restore, path, previous)
                return f"Refused; nothing changed: {reloader.last_problem}"
        return None

    async def set_canary(self, call: Call) -> Response:
        """Starts, re-weights or ends (empty provider) the canary split, through config.yaml."""
        name = call.form.get("provider", "").strip()
        try:
            weight = float(call.form.get("weight", "0") or 0)
        except ValueError:
            return self.error(call.who, 400, "The weight must be a number from 0 to 100.")
        known = {p.name for p in self.gateway.models().providers}
        if name and (name not in known or not 0 <= weight <= 100):
            return self.error(
                call.who, 400, "Choose a configured provider and a weight from 0 to 100."
            )

        def write(path: Path) -> bytes:
            def change(document: dict[str, Any]) -> None:
                models = yaml_section(document, "models")
                if name:
                    models["canary"] = {"provider": name, "weight": weight}
                else:
                    models.pop("canary", None)

            return edit_config(path, change)

        problem = await self._change_config(write)
        if problem is not None:
            return self.error(call.who, 409 if "read-only" in problem else 400, problem)
        return await self._back(
            call,
            "/admin/models",
            "model.canary",
            f"{name} at {weight:g} %" if name else "split ended",
        )

    async def dead_letters(self, call: Call) -> Response:
        rows = await dead_letters(self.gateway.engine)
        return self.render(
            "dead_letters.html", call.who, page="dead-letters", rows=rows, mask=self.mask
        )

    async def retry(self, call: Call) -> Response:
        if not await self._by_id(
            call, "row_id", lambda row_id, now: retry_dead_letter(self.gateway.engine, row_id, now)
        ):
            return self.error(call.who, 404, "No dead letter with that id.")
        self.gateway.wake_outbox()
        return await self._back(
            call,
            "/admin/dead-letters",
            "deadletter.retry",
            f"outbox #{call.request.path_params['row_id']}",
        )

    async def audit_page(self, call: Call) -> Response:
        actor = printable(call.request.query_params.get("actor", ""), NAME_MAX)
        entries = await self.audit.recent(actor=actor or None)
        return self.render("audit.html", call.who, page="audit", entries=entries)

    async def users_page(self, call: Call) -> Response:
        return self.render("users.html", call.who, page="users", users=await self.users.all())

    async def sign_out_user(self, call: Call) -> Response:
        user_id = _int(call.request.path_params.get("user_id"))
        user = await self.users.by_id(user_id) if user_id is not None else None
        if user is None:
            return self.error(call.who, 404, "No user with that id.")
        await self.auth.sessions.end_all(user.id)
        return await self._back(call, "/admin/users", "user.signout", user.name)

    async def _by_id(
        self, call: Call, param: str, action: Callable[[int, float], Awaitable[Any]]
    ) -> Any:
        row_id = _int(call.request.path_params.get(param))
        return None if row_id is None else await action(row_id, self.clock())


def _int(value: object) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None
