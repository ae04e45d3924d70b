"""The fake DingTalk speaks the real protocol: the official `dingtalk-stream` SDK, pointed at
it, connects, answers pings, receives a robot message and has its ack accepted, and reconnects
with a fresh ticket after `disconnect`."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from dingtalk_stream import AckMessage, ChatbotHandler, ChatbotMessage, Credential
from dingtalk_stream.frames import CallbackMessage
from dingtalk_stream.stream import DingTalkStreamClient

from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingtalk


class _Recorder(ChatbotHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[ChatbotMessage] = []

    async def process(self, callback: CallbackMessage) -> tuple[int, str]:
        self.messages.append(ChatbotMessage.from_dict(callback.data))
        return AckMessage.STATUS_OK, "OK"


class _SdkThread:
    """The SDK's client in its own thread and loop: it calls blocking `requests` inside its
    coroutine, which would freeze a fake served by the test's own loop."""

    def __init__(self, client: DingTalkStreamClient) -> None:
        self._client = client
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[Any] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self._task = self._loop.create_task(self._client.start())
        with contextlib.suppress(BaseException):  # cancelled at the end of the test
            self._loop.run_until_complete(self._task)
        leftovers = asyncio.all_tasks(self._loop)  # the SDK's keepalive tasks
        for task in leftovers:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        self._loop.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        # start() swallows one CancelledError (and then sleeps 10 s): cancel until it is done.
        for _ in range(50):
            if not self._thread.is_alive():
                break
            if self._task is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(0.1)
        assert not self._thread.is_alive()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk(ack_timeout=1.0) as fake:
        yield fake


@pytest.fixture
def sdk(fake: FakeDingtalk, monkeypatch: pytest.MonkeyPatch) -> Iterator[_Recorder]:
    monkeypatch.setattr(
        DingTalkStreamClient,
        "OPEN_CONNECTION_API",
        fake.base_url + "/v1.0/gateway/connections/open",
    )
    monkeypatch.setattr(DingTalkStreamClient, "get_host_ip", lambda self: "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    client = DingTalkStreamClient(Credential(CLIENT_ID, CLIENT_SECRET))
    recorder = _Recorder()
    client.register_callback_handler(ChatbotMessage.TOPIC, recorder)
    runner = _SdkThread(client)
    runner.start()
    yield recorder
    runner.stop()


async def test_official_sdk_connects_receives_and_acks(fake: FakeDingtalk, sdk: _Recorder) -> None:
    await fake.wait_for(lambda: len(fake.live) == 1)
    assert fake.opens[0]["subscriptions"] == [
        {"type": "CALLBACK", "topic": "/v1.0/im/bot/messages/get"}
    ]

    opaque = fake.ping()
    data = fake.say(" hello", group=True)
    await fake.wait_for(lambda: bool(fake.pongs) and bool(fake.acks))

    [message] = sdk.messages
    assert (message.message_id, message.conversation_type) == (data["msgId"], "2")
    assert message.text.content == " hello" and message.sender_staff_id == "manager123"
    assert message.session_webhook == data["sessionWebhook"]
    assert [(a.code, a.data) for a in fake.acks] == [(200, '{"response": "OK"}')]
    assert fake.pongs[0].data == f'{{"opaque": "{opaque}"}}'
    assert fake.pending == {} and fake.bad_acks == []


async def test_official_sdk_reconnects_with_a_fresh_ticket_after_disconnect(
    fake: FakeDingtalk,
    sdk: _Recorder,
) -> None:
    await fake.wait_for(lambda: len(fake.live) == 1)
    fake.disconnect()
    await fake.wait_for(lambda: len(fake.connections) == 2 and len(fake.live) == 1)
    assert len(set(fake.tickets)) == 2 == len({c.ticket for c in fake.connections})
    fake.say("after the move")
    await fake.wait_for(lambda: len(sdk.messages) == 1)


async def test_unacknowledged_frames_are_pushed_again(fake: FakeDingtalk, sdk: _Recorder) -> None:
    await fake.wait_for(lambda: len(fake.live) == 1)
    fake.freeze()  # the SDK never sees the first push
    data = fake.message("are you there?")
    fake.push(data)
    fake.connections[0].frozen = False
    await fake.wait_for(lambda: len(sdk.messages) == 1, timeout=5)
    assert fake.redeliveries >= 1 and sdk.messages[0].message_id == data["msgId"]
