"""The admin console in headless Chromium against the real gateway (`ai-bot run`): login,
a viewer refused a change, a live model switch, a key made in the page then accepted by
/v1/models, rotated and revoked, the policies page, and the login lockout. The `open_page`
fixture fails a test on any script error or CSP violation, so the console must run under its
strict Content-Security-Policy."""

from __future__ import annotations

import asyncio

import aiohttp
from playwright.async_api import expect

from tests.fakes.openai_server import FakeOpenAI
from tests.support.admin_http import create_user, login
from tests.support.browser import OpenPage
from tests.support.gateway import GatewayFactory, RunningGateway


async def key_status(gw: RunningGateway, key: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{gw.url}/v1/models", headers={"Authorization": f"Bearer {key}"}) as response,
    ):
        return response.status


async def test_roles_model_switch_key_and_lockout(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI, open_page: OpenPage
) -> None:
    second = {
        "base_url": fake_llm.base_url,
        "api_key": "sk-fake-provider-key-654321",
        "model": "second-model",
        "timeout": 10,
        "max_retries": 1,
    }
    gw = await gateway_factory(
        {"models": {"providers": {"second": second}}, "admin": {"lockout_attempts": 3}}
    )
    await asyncio.gather(create_user(gw, "olga", "operator"), create_user(gw, "vic", "viewer"))

    viewer = (await open_page()).page
    await login(viewer, gw, "vic")
    await expect(viewer.locator("#whoami")).to_have_text("vic (viewer)")
    await viewer.goto(f"{gw.url}/admin/models")
    await expect(viewer.locator("tr[data-provider=second]")).to_be_visible()
    assert await viewer.locator("text=Make default").count() == 0
    # The buttons are hidden from a viewer; a hand-made request is refused by the server.
    await viewer.evaluate("""() => {
        const form = document.createElement("form");
        form.method = "post";
        form.action = "/admin/models/default";
        for (const [name, value] of [["csrf", document.querySelector("input[name=csrf]").value],
                                     ["provider", "second"]]) {
            const input = document.createElement("input");
            input.type = "hidden"; input.name = name; input.value = value;
            form.appendChild(input);
        }
        document.body.appendChild(form);
        form.submit();
    }""")
    await expect(viewer.locator("#error")).to_contain_text("needs operator")

    operator = (await open_page()).page
    await login(operator, gw, "olga")
    await operator.wait_for_selector("body[data-polled]")  # the dashboard polled its numbers
    assert await operator.locator("#chart-messages").count() == 1
    await operator.goto(f"{gw.url}/admin/models")
    await operator.click("tr[data-provider=second] button")
    await expect(operator.locator("tr[data-provider=second] .default")).to_have_text("✓ default")
    assert (await gw.chat("hello"))[0] == 200
    assert fake_llm.requests[-1].json["model"] == "second-model"

    await operator.goto(f"{gw.url}/admin/keys")
    await operator.fill("#create-key input[name=name]", "ci pipeline")
    await operator.select_option("#create-key select[name=scope]", "openai")
    await operator.click("#create-key button[type=submit]")
    key = (await operator.locator("#new-key").inner_text()).strip()
    assert key.startswith("aib_")
    assert await key_status(gw, key) == 200
    await operator.click("tr[data-key] button:has-text('Rotate')")
    rotated = (await operator.locator("#new-key").inner_text()).strip()
    assert rotated != key and await key_status(gw, key) == 401
    key = rotated
    assert await key_status(gw, key) == 200
    await operator.click("tr[data-key] button:has-text('Revoke')")
    await expect(operator.locator("tr[data-key] .state").first).to_have_text("revoked")
    assert await key_status(gw, key) == 401

    await operator.goto(f"{gw.url}/admin/policies")
    await expect(operator.locator("#edit-policies")).to_be_visible()

    await operator.goto(f"{gw.url}/admin/audit")
    audit = await operator.locator("#audit").inner_text()
    for action in ("model.default", "apikey.create", "apikey.rotate", "apikey.revoke", "login"):
        assert action in audit
    assert key not in audit

    # Last, as it locks this address out: three wrong passwords, then even the right one waits.
    stranger = (await open_page()).page
    for _ in range(3):
        await login(stranger, gw, "vic", "not the password")
        await expect(stranger.locator("#error")).to_contain_text("Wrong user name, password")
    await login(stranger, gw, "vic")
    await expect(stranger.locator("#error")).to_contain_text("Too many failed logins")
    assert stranger.url.endswith("/admin/login")
