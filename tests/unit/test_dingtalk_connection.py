"""Our Stream client against the fake gateway: acks (after the commit), pings, events,
reconnects with fresh tickets after `disconnect`, network loss and half-dead connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from dingtalk_stream.frames import SystemMessage
from dingtalk_stream.handlers import SystemHandler

from aibot.channels.dingtalk.client import DingtalkApi
from aibot.channels.dingtalk.connection import SUBSCRIPTIONS, StreamClient, ack, backoff_delay
from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingtalk

Handler = Callable[[dict[str, Any]], Any]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk(ack_timeout=0.5, disconnect_grace=0.3) as fake:
        yield fake


class _Running:
    def __init__(self, fake: FakeDingtalk, handler: Handler, secret: str, keepalive: float) -> None:
        self.received: list[dict[str, Any]] = []
        self.api = DingtalkApi(CLIENT_ID, secret, fake.base_url)

        async def on_message(data: dict[str, Any]) -> None:
            await handler(data)
            self.received.append(data)

        self.client = StreamClient(
            self.api, on_message, keepalive=keepalive, backoff_base=0.1, backoff_max=0.4
        )
        self.task = asyncio.create_task(self.client.run())

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.client.close()
        await self.api.close()


@contextlib.asynccontextmanager
async def running(
    fake: FakeDingtalk,
    handler: Handler | None = None,
    *,
    secret: str = CLIENT_SECRET,
    keepalive: float = 5.0,
) -> AsyncIterator[_Running]:
    async def accept(_data: dict[str, Any]) -> None:
        return None

    client = _Running(fake, handler or accept, secret, keepalive)
    try:
        yield client
    finally:
        await client.stop()


async def test_connects_with_the_subscriptions_and_echoes_pings(fake: FakeDingtalk) -> None:
    async with running(fake) as client:
        await fake.wait_for(lambda: len(fake.live) == 1)
        assert client.client.connected
        [opened] = fake.opens
        assert opened["subscriptions"] == SUBSCRIPTIONS
        assert {"type": "EVENT", "topic": "*"} in SUBSCRIPTIONS
        assert opened["ua"].startswith("ai-bot/")
        opaque = fake.ping()
        await fake.wait_for(lambda: bool(fake.pongs))
    assert json.loads(fake.pongs[0].data) == {"opaque": opaque}
    assert fake.pongs[0].code == 200


def test_ping_ack_matches_the_official_sdk() -> None:
    frame: dict[str, Any] = {
        "specVersion": "1.0",
        "type": "SYSTEM",
        "headers": {
            "contentType": "application/json",
            "messageId": "ping-1",
            "topic": "ping",
            "time": "1700000000000",
        },
        "data": '{"opaque": "abc"}',
    }
    expected = asyncio.run(SystemHandler().raw_process(SystemMessage.from_dict(frame))).to_dict()
    assert json.loads(ack("ping-1", frame["data"])) == expected


async def test_message_is_acknowledged_only_after_the_commit(fake: FakeDingtalk) -> None:
    release = asyncio.Event()

    async def slow_commit(_data: dict[str, Any]) -> None:
        await release.wait()

    async with running(fake, slow_commit) as client:
        await fake.wait_for(lambda: len(fake.live) == 1)
        frame_id = fake.push(fake.message("hello"))
        fake.ping()
        await fake.wait_for(lambda: bool(fake.pongs))  # the connection is not blocked…
        assert fake.acks == []  # …but the message is not acknowledged before its commit
        release.set()
        await fake.wait_for(lambda: bool(fake.acks))
        assert len(client.received) == 1
    assert [(a.message_id, a.code, json.loads(a.data)) for a in fake.acks] == [
        (frame_id, 200, {"response": "OK"})
    ]
    assert fake.pending == {}


async def test_a_failed_commit_leaves_the_frame_for_a_redelivery(fake: FakeDingtalk) -> None:
    calls = 0

    async def flaky_store(_data: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is locked")

    async with running(fake, flaky_store) as client:
        await fake.wait_for(lambda: len(fake.live) == 1)
        fake.say("store me")
        await fake.wait_for(lambda: len(client.received) == 1 and fake.pending == {})
    assert calls == 2 and fake.redeliveries == 1 and len(fake.acks) == 1


async def test_events_and_foreign_callbacks_are_acknowledged(fake: FakeDingtalk) -> None:
    async with running(fake):
        await fake.wait_for(lambda: len(fake.live) == 1)
        event = fake.push_frame("EVENT", "chat_update_title", {"title": "x"})
        card = fake.push_frame("CALLBACK", "/v1.0/card/instances/callback", {"x": 1})
        await fake.wait_for(lambda: len(fake.acks) == 2)
    acks = {a.message_id: a for a in fake.acks}
    assert json.loads(acks[event].data)["status"] == "SUCCESS" and acks[event].code == 200
    assert acks[card].code == 404


async def test_disconnect_means_a_new_connection_with_a_fresh_ticket(fake: FakeDingtalk) -> None:
    async with running(fake) as client:
        await fake.wait_for(lambda: len(fake.live) == 1)
        fake.disconnect()
        await fake.wait_for(lambda: len(fake.connections) == 2 and len(fake.live) == 1)
        assert len(set(fake.tickets)) == 2
        fake.say("after the move")
        await fake.wait_for(lambda: len(client.received) == 1)


async def test_network_loss_and_half_dead_connections_are_replaced(fake: FakeDingtalk) -> None:
    async with running(fake, keepalive=0.4) as client:
        await fake.wait_for(lambda: len(fake.live) == 1)
        fake.drop()
        await fake.wait_for(lambda: len(fake.connections) == 2 and len(fake.live) == 1)
        fake.freeze()  # no pongs any more: only our keep-alive can tell
        await fake.wait_for(
            lambda: len(fake.connections) == 3 and not fake.connections[2].frozen, timeout=5
        )
        fake.say("still here")
        await fake.wait_for(lambda: len(client.received) == 1)
    assert len(set(fake.tickets)) == 3


async def test_refused_credentials_are_reported_and_retried(fake: FakeDingtalk) -> None:
    async with running(fake, secret="wrong") as client:
        await fake.wait_for(lambda: len(fake.opens) >= 3, timeout=5)
        assert not client.client.connected
        assert client.client.last_error is not None
        error = client.client.last_error.say("en")
        assert "authFailed" in error and "client_secret" in error
        chinese = client.client.last_error.say("zh-CN")
        assert chinese.startswith("无法建立 Stream 连接：") and "client_secret" in chinese
    assert fake.connections == []


def test_backoff_grows_with_jitter_up_to_the_cap() -> None:
    delays = [backoff_delay(n, 1.0, 60.0) for n in range(10)]
    assert 0.5 <= delays[0] <= 1.0 and 4.0 <= delays[3] <= 8.0
    assert all(30.0 <= d <= 60.0 for d in delays[6:])
    assert len({backoff_delay(2, 1.0, 60.0) for _ in range(20)}) > 1


async def test_a_refused_handshake_is_reported_without_the_ticket(fake: FakeDingtalk) -> None:
    fake.ticket_ttl = -1.0  # every ticket has expired by the time it is used
    async with running(fake) as client:
        await fake.wait_for(lambda: len(fake.tickets) >= 2, timeout=5)
        error = str(client.client.last_error)
    assert error.startswith("stream handshake refused: HTTP 401")
    assert not any(ticket in error for ticket in fake.tickets)
