"""Issue 16, item 9, against a real gateway: `X-Forwarded-For` is believed only from a proxy in
`server.trusted_proxies` (none by default). A client that rotates the header on every failed
login is still one address to the lockout and to the audit log; behind a configured proxy the
address the proxy appended is the one counted and written."""

from __future__ import annotations

import re

import aiohttp

from tests.support.gateway import GatewayFactory, RunningGateway, rows

ATTEMPTS = 3


async def failed_logins(gw: RunningGateway, count: int) -> list[int]:
    """`count` wrong logins for unknown names, each claiming another client address."""
    statuses = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        for n in range(count):
            async with http.get(f"{gw.url}/admin/login") as response:
                found = re.search(r'name="csrf" value="([^"]+)"', await response.text())
            assert found is not None
            async with http.post(
                f"{gw.url}/admin/login",
                data={"csrf": found.group(1), "name": f"nobody{n}", "password": "wrong password!"},
                headers={"X-Forwarded-For": f"6.6.6.{n}, 203.0.113.{n + 1}"},
                allow_redirects=False,
            ) as response:
                statuses.append(response.status)
    return statuses


async def test_rotating_forwarded_for_neither_dodges_the_lockout_nor_forges_the_audit(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory({"admin": {"lockout_attempts": ATTEMPTS, "lockout_minutes": 10}})
    assert await failed_logins(gw, ATTEMPTS + 2) == [401] * ATTEMPTS + [429, 429]
    addresses = {ip for (ip,) in rows(gw, "SELECT ip FROM audit_log")}
    assert addresses == {"127.0.0.1"}


async def test_a_configured_proxy_reports_the_client_address(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory(
        {
            "server": {"trusted_proxies": ["127.0.0.1"]},
            "admin": {"lockout_attempts": ATTEMPTS, "lockout_minutes": 10},
        }
    )
    # Each attempt really comes from another client behind the proxy: none is locked out.
    assert await failed_logins(gw, ATTEMPTS + 1) == [401] * (ATTEMPTS + 1)
    addresses = sorted(ip for (ip,) in rows(gw, "SELECT ip FROM audit_log"))
    assert addresses == [f"203.0.113.{n + 1}" for n in range(ATTEMPTS + 1)]
