"""The admin console in-process: the real app on a SQLite file behind a TestClient, with
sessions of each role made directly in the store (argon2 logins are slow by design)."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from aibot.admin.auth import SESSION_COOKIE
from aibot.admin.roles import Role
from aibot.admin.routes import AdminConsole
from aibot.config import Config, LoadedConfig
from aibot.gateway.asgi import create_app
from aibot.gateway.build import Gateway
from aibot.store.schema import audit_log

PASSWORD = "correct horse battery"
# In-process clients address the app as localhost: the gateway refuses host names it does not
# serve (server.allowed_hosts), and TestClient's default `testserver` is one of them.
LOCAL = "http://localhost"
# The console speaks the browser's language (zh-CN when it names none); these tests read its
# English, so their clients ask for it. The zh-CN console is tested in the browser.
ENGLISH = {"Accept-Language": "en"}


class Admin:
    """The app, a client, and sessions of each role made directly in the store."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.console: AdminConsole = client.app.full.state.admin_console  # type: ignore[attr-defined]
        self.gateway: Gateway = client.app.state.gateway  # type: ignore[attr-defined]
        self._names = 0
        self._by_role: dict[Role, str] = {}

    def run(self, func: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return self.client.portal.call(func, *args)  # type: ignore[union-attr]

    def user(self, role: Role, totp_secret: str | None = None) -> str:
        self._names += 1
        name = f"{role.label}{self._names}"
        self.run(lambda: self.console.users.create(name, role, PASSWORD, totp_secret))
        return name

    def session(self, role: Role) -> tuple[dict[str, str], str]:
        """Headers carrying a fresh session cookie of `role`, and its CSRF token."""
        if role not in self._by_role:  # one account per role: argon2 is slow by design
            self._by_role[role] = self.user(role)
        user = self.run(self.console.users.by_name, self._by_role[role])
        token, session = self.run(
            self.console.auth.sessions.create, user.id, "1.2.3.4", time.time()
        )
        return {"Cookie": f"{SESSION_COOKIE}={token}"}, session.csrf

    def login_form(self) -> str:
        self.client.cookies.clear()
        page = self.client.get("/admin/login")
        match = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert match
        return match.group(1)

    def login(self, name: str, password: str = PASSWORD, code: str = "") -> Any:
        csrf = self.login_form()
        return self.client.post(
            "/admin/login",
            follow_redirects=False,
            data={"csrf": csrf, "name": name, "password": password, "code": code},
        )

    def audit_actions(self) -> list[tuple[str, str, str]]:
        async def read() -> list[tuple[str, str, str]]:
            async with self.gateway.engine.connect() as connection:
                rows = (
                    await connection.execute(
                        select(audit_log.c.actor, audit_log.c.action, audit_log.c.target).order_by(
                            audit_log.c.id
                        )
                    )
                ).all()
            return [tuple(r) for r in rows]

        return self.run(read)  # type: ignore[no-any-return]

    def sql(self, statement: str, **params: Any) -> None:
        async def execute() -> None:
            async with self.gateway.engine.begin() as connection:
                await connection.execute(text(statement), params)

        self.run(execute)


def endpoints(routes: list[Any]) -> Iterator[tuple[str, str]]:
    """(method, path) of every HTTP route of an app, looking inside included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from endpoints(included.routes)
        for method in getattr(route, "methods", None) or ():
            yield method, route.path


def provider(model: str) -> dict[str, Any]:
    """A model provider that is never called (nothing listens on port 9)."""
    return {
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": "sk-unused-provider-key",
        "model": model,
        "max_retries": 0,
    }


@contextmanager
def two_model_console(directory: Path) -> Iterator[Admin]:
    """The console of a gateway on a SQLite file in ``directory`` with models alpha and beta,
    shared by the console route tests (tests/unit/test_admin_route_*.py)."""
    config = Config.model_validate(
        {
            "storage": {"url": f"sqlite:///{directory / 'store.db'}"},
            "channels": {"api": {"keys": ["config-key-0123456789"]}},
            "models": {
                "default": "alpha",
                "providers": {"alpha": provider("model-a"), "beta": provider("model-b")},
            },
        }
    )
    with TestClient(
        create_app(LoadedConfig(config=config, path=None)), base_url=LOCAL, headers=ENGLISH
    ) as client:
        yield Admin(client)
