"""DingTalk HTTP mode against forged reply links and replayed signatures (issue 16, item 3).

The reply link (`sessionWebhook`) comes from the request body and the signature covers only the
timestamp: a captured pair must not sign another message, and a link must not make the gateway
POST anywhere but DingTalk (or the configured API base)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from aibot.channels.dingtalk.verify import ReplayGuard, trusted_webhook
from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingtalk
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.net import free_port

HOSTS = ["oapi.dingtalk.com", "api.dingtalk.com"]


@pytest.fixture
async def ding() -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk(ack_timeout=1.0, disconnect_grace=0.5) as fake:
        yield fake


@pytest.fixture
async def attacker() -> AsyncIterator[CallbackReceiver]:
    async with CallbackReceiver() as receiver:
        yield receiver


async def http_mode(gateway_factory: GatewayFactory, ding: FakeDingtalk) -> RunningGateway:
    return await gateway_factory(
        {
            "server": {"port": free_port()},
            "channels": {
                "dingtalk": {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "api_base": ding.base_url,
                    "mode": "http",
                }
            },
            "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
        }
    )


async def test_forged_reply_links_are_never_posted_to(
    gateway_factory: GatewayFactory, ding: FakeDingtalk, attacker: CallbackReceiver
) -> None:
    gw = await http_mode(gateway_factory, ding)
    url = f"{gw.url}/dingtalk/webhook"
    forged = [
        attacker.url,  # another port on the same host
        attacker.url.replace("http://", "http://user:pw@"),
        ding.base_url.replace("http://", "https://") + "/robot/sendBySession",  # other scheme
        "ftp://127.0.0.1/robot/sendBySession",
        "file:///etc/passwd",
    ]
    for index, link in enumerate(forged):
        data = ding.message(f"forged {index}")
        data["sessionWebhook"] = link
        assert await ding.post_http(url, data) == 200
    await ding.wait_for(lambda: len(ding.sent) == len(forged), timeout=15)
    await asyncio.sleep(0.5)
    assert attacker.attempts == []
    assert all(s.via != "webhook" for s in ding.sent)  # answered through the robot API
    assert sorted(s.text for s in ding.sent) == sorted(f"echo: forged {i}" for i in range(5))


async def test_a_captured_signature_does_not_sign_another_message(
    gateway_factory: GatewayFactory, ding: FakeDingtalk
) -> None:
    gw = await http_mode(gateway_factory, ding)
    url = f"{gw.url}/dingtalk/webhook"
    timestamp = str(int(time.time() * 1000))
    first = ding.message("the real one")
    assert await ding.post_http(url, first, timestamp=timestamp) == 200
    assert await ding.post_http(url, first, timestamp=timestamp) == 200  # a redelivery
    replayed = ding.message("spoofed with the captured pair")
    assert await ding.post_http(url, replayed, timestamp=timestamp) == 401
    stale = str(int((time.time() - 400) * 1000))  # the window is 5 minutes, not an hour
    assert await ding.post_http(url, ding.message("old"), timestamp=stale) == 401
    await ding.wait_for(lambda: len(ding.sent) == 1)
    await asyncio.sleep(1.0)
    assert [s.text for s in ding.sent] == ["echo: the real one"]


@pytest.mark.parametrize(
    ("link", "trusted"),
    [
        ("https://oapi.dingtalk.com/robot/sendBySession?session=x", True),
        ("https://api.dingtalk.com/v1.0/robot", True),
        ("https://oapi.dingtalk.com:443/robot", True),
        ("http://oapi.dingtalk.com/robot", False),  # https only
        ("https://oapi.dingtalk.com:8443/robot", False),
        ("https://oapi.dingtalk.com.evil.example/robot", False),
        ("https://evil.example/?https://oapi.dingtalk.com", False),
        ("https://user@oapi.dingtalk.com/robot", False),
        ("https://oapi.dingtalk.com:99999/robot", False),
        ("javascript:alert(1)", False),
        ("http://127.0.0.1:9/robot", True),  # the configured api_base's origin
        ("http://127.0.0.1:10/robot", False),
        ("http://[::1]:9/robot", False),
        ("", False),
    ],
)
def test_only_dingtalk_hosts_and_the_api_base_are_trusted(link: str, trusted: bool) -> None:
    assert trusted_webhook(link, HOSTS, "http://127.0.0.1:9") is trusted


def test_the_replay_guard_forgets_old_pairs_and_stays_bounded() -> None:
    guard = ReplayGuard(max_age_ms=1000, limit=3)
    assert guard.admit("sig-a", "m1", 0) and guard.admit("sig-a", "m1", 10)
    assert not guard.admit("sig-a", "m2", 10)
    assert guard.admit("sig-a", "m2", 2001)  # long expired: the timestamp check refuses it
    for index in range(10):
        assert guard.admit(f"sig-{index}", "m", 2002)
    assert len(guard._seen) <= 3
