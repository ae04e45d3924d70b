"""No configured secret leaves the process in an error string (issue 16, item 5), as a class:
every platform and the model point at an upstream that redirects and then fails by quoting the
request (token-bearing URLs, Authorization headers, bodies with app secrets); after the errors
are forced, every public and console page — and the API's error answers — are scraped for every
configured secret in every form it could take in a page."""

from __future__ import annotations

import asyncio
import html
import json
from collections.abc import AsyncIterator
from urllib.parse import quote

import aiohttp
import pytest

from tests.fakes.echo_upstream import EchoUpstream
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID
from tests.support.admin_http import Console, create_user
from tests.support.gateway import API_KEY, GatewayFactory, RunningGateway
from tests.support.log_leaks import configured_secrets

TELEGRAM_TOKEN = "123456:AAH-leaky-bot-token-0123456789"
PUBLIC_PAGES = ["/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/v1/models"]
CONSOLE_PAGES = [
    "/admin",
    "/admin/api/stats",
    "/admin/api/series?range=7d",
    "/admin/conversations",
    "/admin/conversation?key=api:key-1:leak",
    "/admin/conversation/export?key=api:key-1:leak",
    "/admin/channels",
    "/admin/models",
    "/admin/keys",
    "/admin/policies",
    "/admin/dead-letters",
    "/admin/audit",
    "/admin/users",
]


@pytest.fixture
async def upstream() -> AsyncIterator[EchoUpstream]:
    async with EchoUpstream() as echo:
        yield echo


def leaky_config(echo: EchoUpstream) -> dict[str, object]:
    base = echo.base_url
    return {
        "models": {"providers": {"fake": {"base_url": f"{base}/v1", "max_retries": 0}}},
        "channels": {
            "telegram": {"bot_token": TELEGRAM_TOKEN, "api_base": base, "poll_timeout": 1},
            "feishu": {
                "app_id": "cli_leaky",
                "app_secret": "feishu-app-secret-leaky-42",
                "verification_token": "feishu-verification-leaky",
                "api_base": base,
                "mode": "webhook",
            },
            "wecom": {
                "corp_id": CORP_ID,
                "agent_id": AGENT_ID,
                "secret": "wecom-secret-leaky-0123456789",
                "token": "wecomtokenleaky",
                "encoding_aes_key": AES_KEY,
                "api_base": base,
            },
            "dingtalk": {
                "client_id": "dingleakyclient",
                "client_secret": "dingtalk-secret-leaky-0123456789",
                "api_base": base,
            },
        },
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
    }


def forms(secret: str) -> set[str]:
    return {
        secret,
        quote(secret, safe=""),
        quote(secret, safe="/:"),
        json.dumps(secret)[1:-1],
        html.escape(secret, quote=True),
    }


def leaks(gw: RunningGateway, pages: dict[str, str]) -> list[tuple[str, str]]:
    secrets = configured_secrets(gw.config, gw.env, ())
    assert TELEGRAM_TOKEN in secrets and len(secrets) >= 8, secrets
    return [
        (where, form)
        for where, text in pages.items()
        for secret in secrets
        for form in forms(secret)
        if form in text
    ]


async def test_no_configured_secret_on_any_page_after_upstream_errors(
    gateway_factory: GatewayFactory, upstream: EchoUpstream
) -> None:
    gw = await gateway_factory(leaky_config(upstream))
    await create_user(gw, "ada", "admin")
    pages: dict[str, str] = {}
    english = {"Authorization": f"Bearer {API_KEY}", "Accept-Language": "en"}  # "getMe failed"
    async with aiohttp.ClientSession(headers=english) as http:
        for _ in range(40):  # the channels have met the upstream and recorded their errors
            async with http.get(f"{gw.url}/readyz") as response:
                ready = await response.json()
            if "getMe failed" in str(ready):
                break
            await asyncio.sleep(0.25)
        chat = {"session_id": "leak", "message": "hello"}
        async with http.post(f"{gw.url}/api/v1/chat", json=chat) as response:
            pages["POST /api/v1/chat"] = await response.text()
        body = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
        async with http.post(f"{gw.url}/v1/chat/completions", json=body) as response:
            pages["POST /v1/chat/completions"] = await response.text()
        async with http.post(f"{gw.url}/v1/chat/completions", json=body | {"stream": True}) as r:
            pages["POST /v1/chat/completions stream"] = await r.text()
        async with http.ws_connect(f"{gw.url.replace('http', 'ws')}/ws") as ws:
            await ws.send_json({"type": "hello", "session_id": None, "key": API_KEY})
            pages["ws ready"] = await ws.receive_str(timeout=10)
            await ws.send_json({"type": "message", "id": "m", "text": "hello"})
            frames: list[str] = []
            while '"done"' not in (frames or [""])[-1] and '"error"' not in (frames or [""])[-1]:
                frames.append(await ws.receive_str(timeout=15))
            pages["ws answer"] = "".join(frames)
        for path in PUBLIC_PAGES:
            async with http.get(gw.url + path) as response:
                pages[path] = await response.text()
    async with Console(gw) as console:
        assert (await console.login("ada"))[0] == 303
        for path in CONSOLE_PAGES:
            status, text = await console.page(path)
            assert status in (200, 404), (path, status)
            pages[path] = text
    assert "getMe failed" in pages["/readyz"]  # the errors were forced and are shown
    assert "unavailable" in pages["POST /api/v1/chat"]
    assert upstream.requests > 0
    assert leaks(gw, pages) == []
