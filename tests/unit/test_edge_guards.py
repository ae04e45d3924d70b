"""The guards every request passes first (issue 16, items 6 and 9): the `Host` check against
DNS rebinding, and `X-Forwarded-For`/`-Proto` read only from configured proxies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.types import Receive, Scope, Send

from aibot.ops.forwarded import forwarded_client, networks
from aibot.ops.host_check import HostCheck, allowed_hosts, host_allowed, host_name
from tests.support.cli import ai_bot


def scope(peer: str, headers: dict[str, str], kind: str = "http") -> Scope:
    return {
        "type": kind,
        "path": "/",
        "scheme": "http" if kind == "http" else "ws",
        "client": (peer, 5555),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("Example.COM:443", "example.com"),
        ("example.com.", "example.com"),
        ("[::1]:18789", "::1"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_host_names_are_compared_without_port_case_or_trailing_dot(value: str, name: str) -> None:
    assert host_name(value) == name


def test_default_names_are_loopback_public_url_and_the_bound_address() -> None:
    loopback = allowed_hosts(None, "127.0.0.1", "https://Bot.Example.com/ai")
    assert loopback == frozenset({"localhost", "127.0.0.1", "::1", "bot.example.com"})
    assert allowed_hosts([], "10.0.0.5", None) == frozenset(
        {"localhost", "127.0.0.1", "::1", "10.0.0.5"}
    )
    assert allowed_hosts(["*"], "127.0.0.1", None) is None
    wild = allowed_hosts(["*.corp.example"], "0.0.0.0", None)
    assert wild is not None and host_allowed("chat.corp.example", wild)
    assert not host_allowed("corp.example.evil", wild)
    assert not host_allowed("rebind.attacker.example", wild)


async def answered(app: HostCheck, request: Scope) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(request, receive, send)
    return sent


async def inner(_scope: Scope, _receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})


@pytest.mark.parametrize("kind", ["http", "websocket"])
async def test_a_foreign_host_is_refused_with_421_before_any_route(kind: str) -> None:
    guard = HostCheck(inner, allowed_hosts(None, "127.0.0.1", None))
    evil = scope("127.0.0.1", {"Host": "rebind.attacker.example"}, kind)
    if kind == "websocket":
        evil["extensions"] = {"websocket.http.response": {}}
    [start, _body] = await answered(guard, evil)
    assert start["status"] == 421
    ok = await answered(guard, scope("127.0.0.1", {"Host": "localhost:18789"}, kind))
    assert ok[0]["status"] == 200
    for path in ("/healthz", "/readyz", "/metrics"):  # probes and scrapes come by address
        assert (await answered(guard, {**evil, "path": path}))[0]["status"] == 200
    assert (await answered(guard, scope("127.0.0.1", {}, kind)))[0].get("status") in (421, None)


async def test_verdicts_hold_on_every_request_and_a_flood_of_names_is_not_remembered() -> None:
    guard = HostCheck(inner, allowed_hosts(["*.corp.example"], "127.0.0.1", None))
    for _ in range(3):  # the second and later requests take the remembered allowed value
        assert (await answered(guard, scope("::1", {"Host": "localhost"})))[0]["status"] == 200
        assert (await answered(guard, scope("::1", {"Host": "evil.example"})))[0]["status"] == 421
    for n in range(400):
        request = scope("::1", {"Host": f"chat{n}.corp.example"})
        assert (await answered(guard, request))[0]["status"] == 200
    assert len(guard._seen) == 256
    assert (await answered(guard, scope("::1", {"Host": "corp.example.evil"})))[0]["status"] == 421


def test_forwarded_headers_count_only_from_a_configured_proxy() -> None:
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7", "X-Forwarded-Proto": "https"}
    untouched = forwarded_client(scope("127.0.0.1", headers), [])  # the default: no proxy
    assert untouched["client"] == ("127.0.0.1", 5555) and untouched["scheme"] == "http"
    stranger = forwarded_client(scope("198.51.100.1", headers), networks(["127.0.0.1"]))
    assert stranger["client"][0] == "198.51.100.1"

    proxied = forwarded_client(scope("127.0.0.1", headers), networks(["127.0.0.1"]))
    assert proxied["client"][0] == "203.0.113.7"  # the entry nginx added, not the client's
    assert proxied["scheme"] == "https"
    socket = forwarded_client(scope("127.0.0.1", headers, "websocket"), networks(["127.0.0.1"]))
    assert socket["scheme"] == "wss"

    chained = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.0.0.2"}  # LB → nginx → gateway
    two = forwarded_client(scope("127.0.0.1", chained), networks(["127.0.0.1", "10.0.0.0/8"]))
    assert two["client"][0] == "203.0.113.7"
    junk = forwarded_client(
        scope("127.0.0.1", {"X-Forwarded-For": "x, nonsense"}), networks(["127.0.0.1"])
    )
    assert junk["client"][0] == "127.0.0.1"


async def test_run_refuses_a_trusted_proxy_that_is_no_address(tmp_path: Path) -> None:
    run = await ai_bot(tmp_path, "run", "--trusted-proxy", "nginx.local")
    assert run.code != 0
    assert "--trusted-proxy: not an IP address or network: nginx.local" in run.output
