"""The console in-process (the real app on a SQLite file): every route's role check, CSRF,
cookies and headers, and TOTP login.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from aibot.admin.auth import LOGIN_COOKIE, SESSION_COOKIE
from aibot.admin.page import AdminRoute
from aibot.admin.roles import Role
from aibot.admin.totp import _key, hotp, new_secret, step_at
from aibot.config import Config, LoadedConfig
from aibot.gateway.asgi import create_app
from tests.support.admin_app import (
    ENGLISH,
    LOCAL,
    PASSWORD,
    Admin,
    endpoints,
    two_model_console,
)

LOWER = {Role.VIEWER: [], Role.OPERATOR: [Role.VIEWER], Role.ADMIN: [Role.VIEWER, Role.OPERATOR]}


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    with two_model_console(tmp_path_factory.mktemp("admin")) as console:
        yield console


def concrete(route: AdminRoute) -> str:
    return re.sub(r"\{[a-z_]+\}", "1", route.path)


def call(admin: Admin, route: AdminRoute, headers: dict[str, str], csrf: str) -> Any:
    if route.method == "GET":
        return admin.client.get(concrete(route), headers=headers, follow_redirects=False)
    return admin.client.post(
        concrete(route), headers=headers, data={"csrf": csrf}, follow_redirects=False
    )


def test_every_admin_route_is_in_the_guarded_table(admin: Admin) -> None:
    table = {(r.method, r.path) for r in admin.console.routes()}
    mounted = {
        (method, path)
        for method, path in endpoints(admin.client.app.full.routes)  # type: ignore[attr-defined]
        if path.startswith("/admin") and path != "/admin/login" and method != "HEAD"
    }
    assert mounted == table


def test_first_run_says_how_to_create_a_user() -> None:
    # Its own store: the module's shared one has users by now.
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        config = Config.model_validate({"storage": {"url": f"sqlite:///{directory}/s.db"}})
        with TestClient(
            create_app(LoadedConfig(config=config, path=None)), base_url=LOCAL, headers=ENGLISH
        ) as client:
            page = client.get("/admin/login")
    assert "ai-bot admin create-user NAME --role admin" in page.text


@pytest.mark.parametrize("index", range(32))
def test_each_route_refuses_lower_roles_and_strangers(admin: Admin, index: int) -> None:
    routes = admin.console.routes()
    assert len(routes) == 32, "update the parametrize range to cover every route"
    route = routes[index]
    stranger = call(admin, route, {}, "")
    if route.method == "GET" and not route.path.startswith("/admin/api/"):
        assert stranger.status_code == 303 and stranger.headers["location"] == "/admin/login"
    else:
        assert stranger.status_code == 401
    for lower in LOWER[route.role]:
        headers, csrf = admin.session(lower)
        refused = call(admin, route, headers, csrf)
        assert refused.status_code == 403, (route.path, lower)
        assert f"needs {route.role.label}" in refused.text
    headers, csrf = admin.session(route.role)
    assert call(admin, route, headers, csrf).status_code in (200, 303, 400, 404, 409)


def test_state_changes_need_the_sessions_own_csrf_token(admin: Admin) -> None:
    headers, csrf = admin.session(Role.OPERATOR)
    _other_headers, other_csrf = admin.session(Role.OPERATOR)
    for token in ("", "wrong", other_csrf):
        response = admin.client.post(
            "/admin/models/default", headers=headers, data={"csrf": token, "provider": "beta"}
        )
        assert response.status_code == 403
        assert admin.gateway.router.default == "alpha"
    ok = admin.client.post(
        "/admin/models/default",
        headers={**headers, "X-CSRF-Token": csrf},
        data={"provider": "beta"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert admin.gateway.router.default == admin.gateway.catalog.default == "beta"
    assert admin.audit_actions()[-1][1:] == ("model.default", "alpha -> beta")
    admin.client.post(
        "/admin/models/default", headers=headers, data={"csrf": csrf, "provider": "alpha"}
    )
    assert admin.gateway.router.default == "alpha"


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_the_session(admin: Admin) -> None:
    name = admin.user(Role.VIEWER)
    response = admin.login(name)
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "=")
    )
    for flag in ("HttpOnly", "Path=/admin", "SameSite=strict"):
        assert flag in cookie
    assert "Secure" not in cookie  # plain http here; see the https test below
    page = admin.client.get("/admin")
    assert page.status_code == 200 and name in page.text
    for header, value in (
        ("content-security-policy", "script-src 'self'"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
    ):
        assert value in page.headers[header]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    assert (
        admin.client.post(
            "/admin/logout", data={"csrf": csrf.group(1)}, follow_redirects=False
        ).status_code
        == 303
    )
    assert admin.client.get("/admin", follow_redirects=False).status_code == 303
    assert (name, "logout", "") in admin.audit_actions()


def test_cookies_are_secure_behind_an_https_public_url(tmp_path: Path) -> None:
    config = Config.model_validate(
        {
            "storage": {"url": f"sqlite:///{tmp_path}/s.db"},
            "server": {"public_url": "https://bot.example.com"},
        }
    )
    with TestClient(
        create_app(LoadedConfig(config=config, path=None)), base_url=LOCAL, headers=ENGLISH
    ) as client:
        page = client.get("/admin/login")
    assert "Secure" in page.headers["set-cookie"]


def test_login_form_needs_its_double_submit_token(admin: Admin) -> None:
    name = admin.user(Role.VIEWER)
    admin.login_form()
    forged = admin.client.post(
        "/admin/login", data={"csrf": "forged", "name": name, "password": PASSWORD}
    )
    assert forged.status_code == 403
    admin.client.cookies.clear()
    no_cookie = admin.client.post(
        "/admin/login", data={"csrf": "x", "name": name, "password": PASSWORD}
    )
    assert no_cookie.status_code == 403 and LOGIN_COOKIE in no_cookie.headers["set-cookie"]


def test_totp_is_required_when_enrolled_and_a_code_works_once(admin: Admin) -> None:
    secret = new_secret()
    name = admin.user(Role.VIEWER, totp_secret=secret)
    assert admin.login(name).status_code == 401
    code = hotp(_key(secret), step_at(time.time()))
    assert admin.login(name, code=code).status_code == 303
    assert admin.login(name, code=code).status_code == 401  # replayed
