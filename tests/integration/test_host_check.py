"""Issue 16, item 6, against a real gateway: DNS rebinding. A page of `rebind.attacker.example`
whose name now resolves to 127.0.0.1 sends `Host` and `Origin` both of its own name; the
gateway must refuse it (421) — the WebSocket upgrade of the open loopback page included — while
its own names, the health probes and an explicit opt-out keep working. The page's Origin check
compares the scheme too."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.gateway import GatewayFactory, RunningGateway

EVIL = "rebind.attacker.example"


async def status_of(gw: RunningGateway, path: str, host: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{gw.url}{path}", headers={"Host": host}) as response,
    ):
        return response.status


async def page_answers(gw: RunningGateway, host: str, origin: str) -> str:
    """The first frame the page's socket sends after a hello, or the refusal."""
    async with aiohttp.ClientSession() as http:
        try:
            ws = await http.ws_connect(
                f"{gw.url.replace('http', 'ws')}/ws", headers={"Host": host, "Origin": origin}
            )
        except aiohttp.WSServerHandshakeError as exc:
            return f"refused {exc.status}"
        await ws.send_json({"type": "hello"})
        message = await ws.receive(timeout=10)
        await ws.close()
        if message.type == aiohttp.WSMsgType.CLOSE:
            return f"closed {message.data}"
        return str(message.json()["type"])


async def test_a_rebound_name_is_refused_everywhere_but_the_probes(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory({"server": {"public_url": "https://bot.example.com"}})
    own = gw.url.removeprefix("http://")
    assert await page_answers(gw, EVIL, f"http://{EVIL}") == "refused 421"
    assert await status_of(gw, "/", EVIL) == 421
    assert await status_of(gw, "/v1/models", EVIL) == 421
    assert await status_of(gw, "/admin/login", EVIL) == 421
    assert await status_of(gw, "/healthz", EVIL) == 200  # orchestrators probe by address
    for name in (own, "localhost", "bot.example.com", "BOT.example.com:443"):
        assert await status_of(gw, "/", name) == 200, name
    assert await page_answers(gw, own, f"http://{own}") == "ready"
    # Same host and port, another scheme: another origin.
    assert await page_answers(gw, own, f"https://{own}") == "refused 403"  # closed unaccepted
    # The public URL's own origin, as a browser sends it through a TLS proxy.
    assert await page_answers(gw, "bot.example.com", "https://bot.example.com") == "ready"


@pytest.mark.parametrize("allowed", [["*"], [EVIL]])
async def test_allowed_hosts_opens_names_or_everything(
    gateway_factory: GatewayFactory, allowed: list[str]
) -> None:
    gw = await gateway_factory({"server": {"allowed_hosts": allowed}})
    assert await status_of(gw, "/", EVIL) == 200
    assert await status_of(gw, "/", "other.example") == (200 if allowed == ["*"] else 421)
