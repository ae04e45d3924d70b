"""The console's pages and actions. Each one is declared with the least role it needs.

`AdminConsole.routes()` is the single table of what the console can do; every entry is
wrapped by `_guarded`, which checks the session, the CSRF token of state-changing requests and
the role before the handler runs. The unit tests walk that same table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from aibot import i18n
from aibot.admin.auth import LOGIN_COOKIE, LoginRefused, allowed, new_login_token, tokens_match
from aibot.admin.page import HERE, AdminRoute, Call, read_form, secured
from aibot.admin.pages_account import ACCOUNT_PAGE, ALLOWED_BEFORE_CHANGE, AccountPages
from aibot.admin.pages_keys import KeyPages
from aibot.admin.pages_records import RecordPages
from aibot.admin.pages_schedules import SchedulePages
from aibot.admin.pages_settings import SettingsPages
from aibot.admin.pages_token import TokenPages
from aibot.admin.port import AdminPortSplit
from aibot.admin.roles import Role
from aibot.admin.words import _, shown


class AdminConsole(RecordPages, SettingsPages, KeyPages, SchedulePages, AccountPages, TokenPages):
    def routes(self) -> list[AdminRoute]:
        viewer, operator, admin = Role.VIEWER, Role.OPERATOR, Role.ADMIN
        return [
            AdminRoute("GET", "/admin", viewer, self.dashboard),
            AdminRoute("GET", "/admin/api/stats", viewer, self.stats),
            AdminRoute("GET", "/admin/api/series", viewer, self.series),
            AdminRoute("POST", "/admin/api/token", viewer, self.access_token),
            AdminRoute("GET", "/admin/conversations", viewer, self.conversations),
            AdminRoute("GET", "/admin/conversation", viewer, self.conversation),
            AdminRoute("GET", "/admin/conversation/export", viewer, self.export),
            AdminRoute("GET", "/admin/media/{media_id}", viewer, self.media),
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
            AdminRoute("GET", "/admin/schedules", viewer, self.schedules_page),
            AdminRoute("POST", "/admin/schedules/{name}/pause", operator, self.pause_schedule),
            AdminRoute("POST", "/admin/schedules/{name}/resume", operator, self.resume_schedule),
            AdminRoute("POST", "/admin/schedules/{name}/run", operator, self.run_schedule),
            AdminRoute("GET", "/admin/audit", viewer, self.audit_page),
            AdminRoute("GET", "/admin/users", admin, self.users_page),
            AdminRoute("POST", "/admin/users/{user_id}/signout", admin, self.sign_out_user),
            AdminRoute("POST", "/admin/logout", viewer, self.logout),
            AdminRoute("GET", ACCOUNT_PAGE, viewer, self.password_page),
            AdminRoute("POST", ACCOUNT_PAGE, viewer, self.change_password),
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
            speak_as_asked(request)
            who = await self.auth.current(request)
            if who is None:
                if route.method == "GET" and not route.path.startswith("/admin/api/"):
                    return secured(RedirectResponse("/admin/login", 303))
                return self.error(None, 401, _("Sign in first."))
            if who.user.must_change_password and route.path not in ALLOWED_BEFORE_CHANGE:
                if route.method == "GET" and not route.path.startswith("/admin/api/"):
                    return secured(RedirectResponse(ACCOUNT_PAGE, 303))
                return self.error(who, 403, _("Change your password first."))
            form: dict[str, str] = {}
            if route.method != "GET":
                form = await read_form(request)
                presented = form.get("csrf") or request.headers.get("x-csrf-token")
                if not tokens_match(who.session.csrf, presented):
                    return self.error(
                        who,
                        403,
                        _(
                            "This form expired or did not come from the console. Reload the "
                            "page and try again."
                        ),
                    )
            if not allowed(who, route.role):
                return self.error(
                    who,
                    403,
                    _(
                        "Your role ({role}) cannot do this; it needs {needed}.",
                        role=shown(who.user.role.label),
                        needed=shown(route.role.label),
                    ),
                )
            return await route.handler(Call(request, who, form))

        return endpoint

    # -- login ---------------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        speak_as_asked(request)
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
        speak_as_asked(request)
        form = await read_form(request)
        if not tokens_match(request.cookies.get(LOGIN_COOKIE, ""), form.get("csrf")):
            return await self._login_form(request, _("The login form expired; try again."), 403)
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


def speak_as_asked(request: Request) -> None:
    """The console answers this request in the language its browser asks for (`ui.language`
    may fix one), the sign-in page included."""
    i18n.set_request_language(i18n.pick(request.headers.get("accept-language")))
