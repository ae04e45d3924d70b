"""The console in the browser's language: Accept-Language picks zh-CN or en for its pages, its
refusals and its words for states and roles; the sign-in page too, before anyone is signed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aibot.admin.roles import Role
from aibot.config import Config, LoadedConfig
from aibot.gateway.asgi import create_app
from tests.support.admin_app import LOCAL, Admin


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Admin]:
    path: Path = tmp_path_factory.mktemp("language") / "store.db"
    config = Config.model_validate(
        {"storage": {"url": f"sqlite:///{path}"}, "channels": {"slack": {"enabled": True}}}
    )
    with TestClient(create_app(LoadedConfig(config=config, path=None)), base_url=LOCAL) as client:
        yield Admin(client)


@pytest.mark.parametrize(
    ("header", "lang", "words"),
    [
        ("zh-CN,zh;q=0.9", "zh-CN", ("登录", "用户名", "密码")),
        ("en-US,en;q=0.8", "en", ("Sign in", "User name", "Password")),
        ("", "zh-CN", ("登录",)),  # ui.default_language
    ],
)
def test_the_sign_in_page_follows_accept_language(
    admin: Admin, header: str, lang: str, words: tuple[str, ...]
) -> None:
    page = admin.client.get("/admin/login", headers={"Accept-Language": header}).text
    assert f'<html lang="{lang}">' in page
    for word in words:
        assert word in page, word


def test_pages_refusals_and_states_in_chinese(admin: Admin) -> None:
    headers, csrf = admin.session(Role.VIEWER)
    chinese = {**headers, "Accept-Language": "zh-CN"}
    page = admin.client.get("/admin/models", headers=chinese).text
    assert "<h1>模型</h1>" in page and "(查看者)" in page and "退出登录" in page
    assert "以下渠道在当前版本中不可用（已忽略）：slack" in page  # the gateway's problems
    refused = admin.client.post(
        "/admin/models/default", headers=chinese, data={"csrf": csrf, "provider": "x"}
    )
    assert refused.status_code == 403
    assert "你的角色（查看者）无权执行此操作，需要操作员权限。" in refused.text
    english = admin.client.get("/admin/models", headers={**headers, "Accept-Language": "en"}).text
    assert "<h1>Models</h1>" in english and "(viewer)" in english
    assert "channels not available in this version (ignored): slack" in english
