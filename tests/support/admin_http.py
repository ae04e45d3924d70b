"""The admin console of a running gateway as its users meet it: accounts made with the CLI
(`ai-bot admin create-user`), and a browser-like HTTP client that keeps cookies and CSRF tokens."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp

from tests.support.cli import AI_BOT
from tests.support.gateway import RunningGateway

PASSWORD = "correct horse battery staple"


async def create_user(gw: RunningGateway, name: str, role: str, password: str = PASSWORD) -> str:
    """`ai-bot admin create-user` against the gateway's config; returns its output."""
    process = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        "admin",
        "create-user",
        name,
        "--role",
        role,
        "--password-stdin",
        "-c",
        str(gw.config_path),
        cwd=gw.workdir,
        env=gw.env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate((password + "\n").encode())
    assert process.returncode == 0, output.decode()
    return output.decode()


async def login(page: Any, gw: RunningGateway, name: str, password: str = PASSWORD) -> None:
    """Signs in through the console's login form in a browser page (Playwright)."""
    await page.goto(f"{gw.url}/admin/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", password)
    await page.click("#login button[type=submit]")
    await page.wait_for_load_state()


class Console:
    """A browser-like client of /admin: keeps cookies, reads CSRF tokens from the forms."""

    def __init__(self, gw: RunningGateway) -> None:
        self.gw = gw
        # unsafe=True: aiohttp otherwise ignores cookies set by an IP-address host.
        # Accept-Language: the console speaks the browser's language; these tests read English.
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), headers={"Accept-Language": "en"}
        )

    async def __aenter__(self) -> Console:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.http.close()

    async def page(self, path: str) -> tuple[int, str]:
        async with self.http.get(self.gw.url + path, allow_redirects=False) as response:
            return response.status, await response.text()

    @staticmethod
    def csrf(html: str) -> str:
        match = re.search(r'name="csrf" value="([^"]+)"', html)
        assert match, html[:500]
        return match.group(1)

    async def login(self, name: str, password: str = PASSWORD) -> tuple[int, str]:
        _status, html = await self.page("/admin/login")
        async with self.http.post(
            self.gw.url + "/admin/login",
            allow_redirects=False,
            data={
                "csrf": self.csrf(html),
                "name": name,
                "password": password,
            },
        ) as response:
            return response.status, await response.text()

    async def post(self, path: str, form: dict[str, str], token_from: str) -> tuple[int, str]:
        _status, html = await self.page(token_from)
        async with self.http.post(
            self.gw.url + path, allow_redirects=False, data={"csrf": self.csrf(html), **form}
        ) as response:
            return response.status, await response.text()
