"""Long-connection mode: the bridge from lark-oapi's thread to the gateway's inbox.

What is tested: the SDK's own dispatcher (built by our bridge) hands a raw event to the
gateway loop and returns only after the commit, and a card press to the channel's answer;
a failed or slow commit raises (so the SDK answers 500 and Feishu re-sends); the client runs
in its own thread and loop and reports a refused bootstrap. What is not: the pbbp2 WebSocket
framing behind the bootstrap, which is private to the SDK and cannot be faked faithfully
(PROTOCOLS.md §1.11).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from aibot.channels.feishu import connection as feishu_connection
from aibot.channels.feishu.connection import EventBridge, LongConnection
from aibot.channels.feishu.inbound import EventReader
from aibot.config import FeishuChannelConfig
from aibot.core.messages import Inbound
from tests.fakes.feishu_api import FakeFeishu
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def lark() -> Any:
    import lark_oapi  # type: ignore[import-untyped]

    return lark_oapi


@pytest.fixture
async def fake() -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu() as fake:
        yield fake


def config(fake: FakeFeishu, secret: str) -> FeishuChannelConfig:
    return FeishuChannelConfig(
        app_id=fake.app_id, app_secret=secret, mode="websocket", api_base=fake.base_url
    )


def frame_payload(fake: FakeFeishu) -> bytes:
    """What a long-connection data frame carries: the v2 envelope, unencrypted."""
    return orjson.dumps(
        fake.envelope(
            {
                "sender": {"sender_id": {"open_id": "ou_ann"}, "sender_type": "user"},
                "message": {
                    "message_id": "om_ws1",
                    "chat_id": "oc_1",
                    "chat_type": "p2p",
                    "message_type": "text",
                    "content": '{"text":"over the long connection"}',
                },
            }
        )
    )


async def test_sdk_event_is_committed_on_the_gateway_loop(lark: Any, fake: FakeFeishu) -> None:
    loop = asyncio.get_running_loop()
    delivered: list[tuple[dict[str, Any], asyncio.AbstractEventLoop]] = []

    async def deliver(payload: dict[str, Any]) -> None:
        delivered.append((payload, asyncio.get_running_loop()))

    handler = EventBridge(deliver, loop).handler()
    # ws.Client._handle_data_frame calls exactly this, on its own thread.
    await asyncio.to_thread(handler._do_without_validation, frame_payload(fake))
    [(payload, on_loop)] = delivered
    assert on_loop is loop
    inbound = EventReader(config(fake, "s"), "ou_bot").read(payload)
    assert isinstance(inbound, Inbound)
    assert (inbound.message_id, inbound.text) == ("om_ws1", "over the long connection")


async def test_card_press_is_answered_from_the_gateway_loop(lark: Any, fake: FakeFeishu) -> None:
    """A `card.action.trigger` event frame goes through the SDK's callback processor to the
    channel's answer, which the SDK marshals into the frame's response as it is."""
    loop = asyncio.get_running_loop()
    pressed: list[tuple[dict[str, Any], asyncio.AbstractEventLoop]] = []

    async def deliver(payload: dict[str, Any]) -> None:
        raise AssertionError("a press is not a message")

    async def card_action(payload: dict[str, Any]) -> dict[str, Any]:
        pressed.append((payload, asyncio.get_running_loop()))
        return {"toast": {"type": "success", "content": "已批准，工具将运行。"}}

    envelope = fake.envelope(
        {
            "operator": {"open_id": "ou_ann", "union_id": "on_ann", "tenant_key": "tk"},
            "token": "c-123",
            "host": "im_message",
            "action": {"tag": "button", "value": {"approval": "tool:1:abc"}},
            "context": {"open_message_id": "om_card", "open_chat_id": "oc_1"},
        },
        "card.action.trigger",
    )
    handler = EventBridge(deliver, loop, card_action).handler()
    result = await asyncio.to_thread(handler._do_without_validation, orjson.dumps(envelope))
    [(payload, on_loop)] = pressed
    assert on_loop is loop
    assert payload["event"]["operator"]["open_id"] == "ou_ann"
    assert payload["event"]["action"]["value"] == {"approval": "tool:1:abc"}
    assert orjson.loads(lark.JSON.marshal(result)) == {
        "toast": {"type": "success", "content": "已批准，工具将运行。"}
    }


async def test_failed_or_slow_commit_makes_the_sdk_answer_an_error(
    lark: Any,
    fake: FakeFeishu,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(payload: dict[str, Any]) -> None:
        raise RuntimeError("store down")

    async def slow(payload: dict[str, Any]) -> None:
        await asyncio.sleep(5)

    monkeypatch.setattr(feishu_connection, "COMMIT_WITHIN", 0.2)
    for deliver, error in ((broken, RuntimeError), (slow, TimeoutError)):
        handler = EventBridge(deliver, asyncio.get_running_loop()).handler()
        with pytest.raises(error):
            await asyncio.to_thread(handler._do_without_validation, frame_payload(fake))


async def test_refused_bootstrap_is_reported(lark: Any, fake: FakeFeishu) -> None:
    async def deliver(payload: dict[str, Any]) -> None:
        raise AssertionError("nothing should arrive")

    connection = LongConnection(config(fake, "wrong-secret"), deliver, asyncio.get_running_loop())
    connection.start()
    assert await wait_until(lambda: connection.error is not None, timeout=10)
    assert "app credentials are invalid" in str(connection.error)
    assert "app_secret" in str(connection.error)
    connection.stop()


def test_the_gateway_never_imports_lark_oapi_itself() -> None:
    code = (
        "import sys, aibot.gateway.build, aibot.gateway.registry, aibot.channels.feishu.doctor; "
        "print('lark_oapi' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
