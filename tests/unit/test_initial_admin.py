"""The installer's first admin: `ai-bot admin create-initial` writes a random one-time password
to a 0600 file and never touches an existing account; the console lets that account do nothing
but change its password (and sign out) until it has."""

from __future__ import annotations

import re
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aibot.admin.auth import SESSION_COOKIE
from aibot.admin.roles import Role
from aibot.config import Config, LoadedConfig
from aibot.gateway.asgi import create_app
from tests.support.admin_app import ENGLISH, LOCAL, Admin
from tests.support.cli import AI_BOT

ONE_TIME = "one-time-password-0123"


def create_initial(directory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AI_BOT), "admin", "create-initial", "--file", str(directory / "admin.txt"), *extra],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory), "LANG": "en_US.UTF-8"},
        check=False,
    )


def test_create_initial_writes_a_private_file_and_never_resets(tmp_path: Path) -> None:
    first = create_initial(tmp_path)
    assert first.returncode == 0, first.stderr
    secret = tmp_path / "admin.txt"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    content = secret.read_text()
    assert "user: admin" in content and "/admin/login" in content
    match = re.search(r"^password: (\S{20,})$", content, re.M)
    assert match is not None
    assert match.group(1) not in first.stdout + first.stderr  # only in the file
    again = create_initial(tmp_path, "--name", "other")
    assert again.returncode == 0 and "already exist" in again.stderr
    assert secret.read_text() == content  # neither the file nor the account changed
    listed = subprocess.run(
        [str(AI_BOT), "admin", "list-users"], cwd=tmp_path, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert "admin" in listed.stdout and "other" not in listed.stdout


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    store = tmp_path_factory.mktemp("initial") / "store.db"
    config = Config.model_validate({"storage": {"url": f"sqlite:///{store}"}})
    with TestClient(
        create_app(LoadedConfig(config=config, path=None)), base_url=LOCAL, headers=ENGLISH
    ) as client:
        yield Admin(client)


def test_the_console_asks_for_a_new_password_first(admin: Admin) -> None:
    console = admin.console
    user = admin.run(lambda: console.users.create("first", Role.ADMIN, ONE_TIME, must_change=True))
    token, session = admin.run(console.auth.sessions.create, user.id, "1.2.3.4", time.time())
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
    page = admin.client.get("/admin/keys", headers=headers, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/admin/account/password"
    form = {"csrf": session.csrf, "name": "x", "scope": "all"}
    refused = admin.client.post("/admin/keys", data=form, headers=headers)
    assert refused.status_code == 403 and "Change your password first" in refused.text
    shown = admin.client.get("/admin/account/password", headers=headers)
    assert shown.status_code == 200 and 'id="must-change"' in shown.text

    def change(current: str, new: str, confirm: str | None = None) -> int:
        data = {"csrf": session.csrf, "current": current, "new": new, "confirm": confirm or new}
        return admin.client.post(
            "/admin/account/password", data=data, headers=headers, follow_redirects=False
        ).status_code

    assert change("wrong-password-000", "a-new-password-1") == 400
    assert change(ONE_TIME, "a-new-password-1", "a-different-one-2") == 400
    assert change(ONE_TIME, ONE_TIME) == 400
    assert change(ONE_TIME, "short") == 400
    assert change(ONE_TIME, "a-new-password-1") == 303
    assert admin.client.get("/admin/keys", headers=headers).status_code == 200
    assert ("first", "user.password", "first") in admin.audit_actions()
    assert admin.login("first", "a-new-password-1").status_code == 303
