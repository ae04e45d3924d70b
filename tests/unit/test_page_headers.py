"""Issue 16, item 10 and HSTS: every HTML response — the chat page, the console's pages, the
API docs, static HTML — forbids framing by header (`X-Frame-Options: DENY`, CSP `frame-ancestors
'none'`), and with an https `public_url` every response carries Strict-Transport-Security."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from aibot.admin.roles import Role
from aibot.config import Config, LoadedConfig
from aibot.gateway.asgi import create_app
from tests.support.admin_app import LOCAL, Admin, endpoints


@pytest.fixture(scope="module")
def admin() -> Iterator[Admin]:
    with tempfile.TemporaryDirectory() as folder:
        config = Config.model_validate(
            {
                "storage": {"url": f"sqlite:///{folder}/s.db"},
                "server": {"public_url": "https://bot.example.com"},
                "channels": {"api": {"keys": ["config-key-0123456789"]}},
            }
        )
        with TestClient(create_app(LoadedConfig(config=config, path=None)), base_url=LOCAL) as c:
            yield Admin(c)


def get_paths(admin: Admin) -> list[str]:
    """Every GET route of the app, path parameters filled in, a static HTML file, a 404."""
    routes = admin.client.app.full.routes  # type: ignore[attr-defined]
    found = {
        re.sub(r"\{[^}]+\}", "1", path) for method, path in endpoints(routes) if method == "GET"
    }
    return sorted(found | {"/static/index.html", "/no/such/page"})


def test_every_html_response_refuses_framing_and_every_response_asks_for_https(
    admin: Admin,
) -> None:
    headers, _csrf = admin.session(Role.ADMIN)
    html_paths = []
    for path in get_paths(admin):
        for cookies in ({}, headers):
            response = admin.client.get(path, headers=cookies, follow_redirects=False)
            assert response.headers.get("strict-transport-security") == "max-age=31536000", path
            if not response.headers.get("content-type", "").startswith("text/html"):
                continue
            html_paths.append(path)
            assert response.headers["x-frame-options"] == "DENY", path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
    assert {"/", "/docs", "/admin/login", "/admin", "/admin/audit"} <= set(html_paths), html_paths


def test_no_hsts_without_an_https_public_url() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Config.model_validate({"storage": {"url": f"sqlite:///{folder}/s.db"}})
        with TestClient(create_app(LoadedConfig(config=config, path=None)), base_url=LOCAL) as c:
            page = c.get("/")
    assert "strict-transport-security" not in page.headers
    assert page.headers["x-frame-options"] == "DENY"


def test_an_uptime_checkers_head_of_the_page_is_answered_as_its_get(admin: Admin) -> None:
    """UptimeRobot and many load balancers check `HEAD /`: FastAPI's GET routes refused it 405."""
    page = admin.client.get("/")
    head = admin.client.head("/")
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers == page.headers
