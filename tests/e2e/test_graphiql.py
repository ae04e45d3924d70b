"""GraphiQL in a real browser: with `channels.api.graphiql: true` the page renders from files
the gateway serves itself, under its CSP (no inline script), and asks no other origin for
anything (its own schema request without a key is refused like any other)."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.support.browser import OpenPage
from tests.support.gateway import GatewayFactory


async def test_graphiql_renders_from_the_gateway_alone(
    gateway_factory: GatewayFactory, open_page: OpenPage
) -> None:
    gw = await gateway_factory({"channels": {"api": {"graphiql": True}}})
    probe = await open_page()
    requested: list[str] = []
    problems: list[str] = []

    def on_request(request: Any) -> None:
        requested.append(request.url)

    def on_console(message: Any) -> None:
        if message.type == "error":
            problems.append(message.text)

    probe.page.on("request", on_request)
    probe.page.on("console", on_console)
    await probe.page.goto(f"{gw.url}/graphql")
    await expect(probe.page.locator(".graphiql-container")).to_be_visible()
    await expect(probe.page.locator(".graphiql-execute-button")).to_be_visible()
    assert requested and all(url.startswith(gw.url) for url in requested), requested
    assert not [p for p in problems if "Content Security Policy" in p], problems
