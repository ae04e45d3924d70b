"""Opening a huge message in the console does not stall the gateway (issue 16, item 1).

Masking personal data in a transcript takes time linear in its length and runs off the event
loop, so `/healthz` keeps answering while a viewer opens a conversation of megabytes."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import quote

import aiohttp

from tests.support.admin_http import Console, create_user
from tests.support.gateway import API_KEY, GatewayFactory, rows

HUGE = 1_000_000
# Letters without `@`: what made the old e-mail pattern backtrack quadratically.
HOSTILE = "x@" + "a" * (HUGE - 2)


async def test_healthz_answers_while_a_viewer_opens_a_huge_message(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory({"server": {"max_message_chars": HUGE, "max_body_bytes": 8 * HUGE}})
    await create_user(gw, "vera", "viewer")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {API_KEY}"}) as http:
        async with http.post(
            f"{gw.url}/api/v1/chat", json={"session_id": "big", "message": HOSTILE}
        ) as response:
            assert response.status == 200, await response.text()

        [(key,)] = rows(gw, "select distinct session_key from turns")
        async with Console(gw) as console:
            assert (await console.login("vera"))[0] == 303
            opened = asyncio.create_task(console.page(f"/admin/conversation?key={quote(key)}"))
            worst = 0.0
            while not opened.done():
                started = time.monotonic()
                async with http.get(f"{gw.url}/healthz") as health:
                    assert health.status == 200
                worst = max(worst, time.monotonic() - started)
                await asyncio.sleep(0.05)
            status, html = await opened
    assert status == 200 and "aaaaaaaaaa" in html
    assert worst < 1.0, f"/healthz took {worst:.2f} s while the page was rendered"
