"""`/docs` in a real browser (issue 16, item 12): Swagger UI renders the gateway's API from
files the gateway serves itself, under its Content-Security-Policy, and asks no other origin
for anything (offline and behind the Great Firewall alike)."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.support.browser import OpenPage
from tests.support.gateway import GatewayFactory


async def test_docs_render_from_the_gateway_alone(
    gateway_factory: GatewayFactory, open_page: OpenPage
) -> None:
    gw = await gateway_factory()
    probe = await open_page()
    requested: list[str] = []

    def on_request(request: Any) -> None:
        requested.append(request.url)

    probe.page.on("request", on_request)
    await probe.page.goto(f"{gw.url}/docs")
    await expect(probe.page.locator(".swagger-ui .info .title")).to_contain_text("ai-bot gateway")
    await expect(probe.page.locator(".opblock-summary-path").first).to_be_visible()
    assert requested and all(url.startswith(gw.url) for url in requested), requested
