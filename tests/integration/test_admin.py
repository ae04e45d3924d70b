"""The admin console on a real gateway (`ai-bot run`): accounts made with the CLI, login and
lockout over HTTP, and console-made API keys working against /v1 on this and another replica."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable

import aiohttp

from tests.fakes.openai_server import FakeOpenAI
from tests.support.admin_http import PASSWORD, Console, create_user
from tests.support.gateway import PROVIDER_KEY, GatewayFactory, RunningGateway
from tests.support.net import free_port
from tests.support.waiting import eventually


async def status_with_key(gw: RunningGateway, key: str, path: str = "/v1/models") -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(gw.url + path, headers={"Authorization": f"Bearer {key}"}) as response,
    ):
        return response.status


async def test_first_user_login_audit_and_lockout(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory({"admin": {"lockout_attempts": 3, "lockout_minutes": 10}})
    async with Console(gw) as console:
        _status, html = await console.page("/admin/login")
        assert "ai-bot admin create-user NAME --role admin" in html
        assert (await console.page("/admin"))[0] == 303
        await create_user(gw, "alice", "admin")
        status, _ = await console.login("alice")
        assert status == 303
        status, html = await console.page("/admin")
        assert status == 200 and "alice (admin)" in html
        status, html = await console.page("/admin/audit")
        assert "user.create" in html and "alice role=admin" in html and ">login<" in html
        assert "127.0.0.1" in html
        assert "signed in <code>login</code>" in html  # each action's label, then its code
        zh = {"Accept-Language": "zh-CN"}
        async with console.http.get(f"{gw.url}/admin/audit", headers=zh) as response:
            chinese = await response.text()
        assert "登录 <code>login</code>" in chinese
        assert "创建账号 <code>user.create</code>" in chinese

    # The lockout, last: it shuts this address out of every account for a while.
    await asyncio.gather(create_user(gw, "bob", "viewer"), create_user(gw, "carol", "viewer"))
    async with Console(gw) as console:
        for _ in range(3):
            status, html = await console.login("bob", "wrong password!")
            assert status == 401 and "Wrong user name, password or code" in html
        status, html = await console.login("bob")  # right password, but locked
        assert status == 429 and "Too many failed logins" in html
        status, _ = await console.login("carol")  # same address: locked too
        assert status == 429
        assert (await console.page("/admin"))[0] == 303
        status, html = await console.login("alice")
        assert status == 429
    await gw.stop()
    assert PASSWORD not in gw.log()


async def test_make_default_switches_the_model_the_answer_cache_keys_by(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    """The live default has one owner: after "Make default" a first question already answered
    by the old default is not served that model's cached answer."""
    fake_llm.reply = lambda body: f"{body['model']}: {body['messages'][-1]['content']}"
    other = {"base_url": fake_llm.base_url, "api_key": PROVIDER_KEY, "model": "other-model"}
    gw = await gateway_factory(
        {"models": {"providers": {"other": other}}, "policy": {"cache": {"enabled": True}}}
    )
    assert (await gw.chat("hello", session="before"))[1]["reply"] == "fake-model: hello"
    assert (await gw.chat("hello", session="again"))[1]["reply"] == "fake-model: hello"
    assert len(fake_llm.requests) == 1  # the second came from the cache
    await create_user(gw, "olga", "operator")
    async with Console(gw) as console:
        await console.login("olga")
        status, _ = await console.post(
            "/admin/models/default", {"provider": "other"}, token_from="/admin/models"
        )
        assert status == 303
    assert (await gw.chat("hello", session="after"))[1]["reply"] == "other-model: hello"
    assert [r.json["model"] for r in fake_llm.requests] == ["fake-model", "other-model"]


async def test_console_keys_work_on_v1_and_revocation_reaches_replicas(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory({"channels": {"api": {"key_refresh": "300ms"}}})
    replica, *_ = await asyncio.gather(
        gateway_factory(
            {"storage": gw.config["storage"], "channels": {"api": {"key_refresh": "300ms"}}},
            name="replica",
        ),
        create_user(gw, "olga", "operator"),
        create_user(gw, "vic", "viewer"),
    )
    async with Console(gw) as viewer:
        await viewer.login("vic")
        status, html = await viewer.post(
            "/admin/keys", {"name": "x", "scope": "all"}, token_from="/admin/keys"
        )
        assert status == 403 and "needs operator" in html
    async with Console(gw) as console:
        assert (await console.login("olga"))[0] == 303
        status, html = await console.post(
            "/admin/keys",
            {"name": "ci", "scope": "openai", "expires_days": "30"},
            token_from="/admin/keys",
        )
        assert status == 200
        match = re.search(r'id="new-key">([^<]+)<', html)
        assert match
        key = match.group(1)
        assert await status_with_key(gw, key) == 200
        assert await status_with_key(gw, key, "/api/v1/chat") in (401, 405)  # scope: /v1 only
        assert await status_with_key(gw, gw.api_key) == 200  # config keys still work
        assert await eventually(lambda: _is(status_with_key(replica, key), 200), timeout=5)

        key_id = re.search(r'data-key="(\d+)"', html)
        assert key_id
        status, _ = await console.post(
            f"/admin/keys/{key_id.group(1)}/revoke", {}, token_from="/admin/keys"
        )
        assert status == 303
        assert await status_with_key(gw, key) == 401
        assert await eventually(lambda: _is(status_with_key(replica, key), 401), timeout=5)
        _status, listing = await console.page("/admin/keys")
        assert "revoked" in listing and key not in listing
    await gw.stop()
    await replica.stop()
    assert key not in gw.log() and key not in replica.log()


async def _is(status: Awaitable[int], expected: int) -> bool:
    return await status == expected


async def test_admin_port_serves_the_console_and_nothing_else(
    gateway_factory: GatewayFactory,
) -> None:
    admin_port = free_port()
    gw = await gateway_factory({"admin": {"port": admin_port}})
    admin_url = f"http://127.0.0.1:{admin_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(admin_url + "/admin/login") as response:
            assert response.status == 200 and "create-user" in await response.text()
        for url in (
            gw.url + "/admin/login",
            gw.url + "/admin",
            admin_url + "/v1/models",
            admin_url + "/healthz",
            admin_url + "/",
        ):
            async with http.get(url, headers=gw.headers, allow_redirects=False) as response:
                assert response.status == 404, url
        chat = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
        for path, body in (
            ("/v1/chat/completions", chat),
            ("/api/v1/chat", {"session_id": "s-1", "message": "hi"}),
        ):
            async with http.post(admin_url + path, json=body, headers=gw.headers) as response:
                assert response.status == 404, path
        async with http.get(gw.url + "/v1/models", headers=gw.headers) as response:
            assert response.status == 200
    assert await gw.stop() == 0  # both listeners close cleanly on SIGTERM
