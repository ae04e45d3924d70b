"""The generic webhook channel as the registry builds it: a `Channel` like every platform, its
route committing to the inbox, its replies signed callbacks stamped by the injected clock."""

from __future__ import annotations

import time
from typing import cast

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient

from aibot.channels.api_keys import ApiKeys
from aibot.channels.base import Channel, ChannelContext, Clock
from aibot.channels.errors import PlatformError
from aibot.config import Config
from aibot.core.directory import ChannelDirectory
from aibot.core.errors import AccessDenied
from aibot.core.events import PlatformEvents
from aibot.core.feedback import Feedback
from aibot.core.inbox import Inbox
from aibot.core.messages import Inbound, Outbound
from aibot.gateway.registry import build_channels
from aibot.ops.metrics import Metrics
from tests.fakes.callback_receiver import CallbackReceiver
from tests.support.clock import FakeClock

KEY, SECRET = "integrator-key", "callback-secret"


class _Inbox:
    max_message_chars = 100_000

    def __init__(self) -> None:
        self.accepted: list[Inbound] = []

    async def accept(self, inbound: Inbound) -> bool:
        if any(i.message_id == inbound.message_id for i in self.accepted):
            return False
        self.accepted.append(inbound)
        return True


async def unauthorized(_request: Request, _exc: Exception) -> Response:
    return Response(status_code=401)


def webhook_channel(callback_url: str, inbox: _Inbox, clock: Clock) -> Channel:
    config = Config.model_validate(
        {"channels": {"webhook": {"callback_url": callback_url, "secret": SECRET}}}
    )
    context = ChannelContext(
        inbox=cast(Inbox, inbox),
        metrics=Metrics(),
        public_url=None,
        feedback=cast(Feedback, None),
        events=cast(PlatformEvents, None),
        clock=clock,
        keys=ApiKeys([KEY]),
    )
    directory = ChannelDirectory()
    [channel] = build_channels(config, context, directory)
    assert directory.sender(channel.name) is channel  # the outbox finds it by name
    return channel


async def test_registered_like_every_channel_and_round_trips_a_message() -> None:
    inbox = _Inbox()
    async with CallbackReceiver(SECRET) as receiver:
        channel = webhook_channel(receiver.url, inbox, Clock(now=FakeClock(1_700_000_000.0)))
        assert (channel.name, channel.exclusive, channel.status("en")) == (
            "webhook",
            False,
            {"ok": True},
        )
        app = FastAPI()
        app.add_exception_handler(AccessDenied, unauthorized)  # as the gateway's app does
        router = channel.router()
        assert router is not None
        app.include_router(router)
        body = {"message_id": "m-1", "session_id": "s-1", "message": "hi", "metadata": {"k": [1]}}
        with TestClient(app) as client:
            assert client.post("/api/v1/messages", json=body).status_code == 401
            auth = {"Authorization": f"Bearer {KEY}"}
            assert client.post("/api/v1/messages", json=body, headers=auth).status_code == 202
            assert client.post("/api/v1/messages", json=body, headers=auth).status_code == 200
        [inbound] = inbox.accepted
        assert (inbound.session_key, inbound.principal, inbound.received_at) == (
            "webhook:key-1:s-1",
            "key-1",
            1_700_000_000.0,
        )
        assert (inbound.user_id, inbound.message_id, inbound.chat_id) == (
            "api:key-1",
            "key-1:m-1",
            "key-1",
        )
        await channel.send(
            Outbound("webhook", inbound.session_key, "pong", inbound.target, 0.0, outbox_id=9)
        )
        [reply] = await receiver.wait_for(1)
        assert reply == {
            "session_id": "s-1",
            "user_id": None,
            "in_reply_to": "m-1",
            "metadata": {"k": [1]},
            "text": "pong",
            "reply_id": 9,
        }
        assert receiver.headers[0]["X-AIBot-Timestamp"] == "1700000000"
        assert receiver.bad_signatures == 0
        receiver.script(410, 503)
        for status, permanent in ((410, True), (503, False)):
            with pytest.raises(PlatformError) as refused:
                await channel.send(
                    Outbound("webhook", "webhook:s-1", "again", inbound.target, time.time())
                )
            assert (refused.value.status, refused.value.permanent) == (status, permanent)
        await channel.close()
