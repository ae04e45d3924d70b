"""Hostile credentials to one real gateway (issue 9): mutated, absent, near-miss or replayed
signatures and keys are refused.

The last test sends the same requests correctly signed and sees them accepted, so the refusals
come from the checks under test and not from a broken harness.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support.forged_requests import MUTATIONS, SIGNED, forged
from tests.support.fuzz_rig import (
    Rig,
    fuzz_settings,
    in_thread,
    socket_exchange,
)
from tests.support.hostile_inputs import (
    NEAR_MISS_KEYS,
    header_text,
    nested,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_mutated_credentials_are_refused(rig: Rig) -> None:
    """A request that would be accepted, with one thing about its credentials wrong."""

    @fuzz_settings(max_examples=500)
    @given(
        channel=st.sampled_from(SIGNED),
        mutation=st.sampled_from(MUTATIONS),
        index=st.integers(0, 200),
        junk=header_text(40),
        skew=st.integers(3700, 10**7),
    )
    def prop(channel: str, mutation: str, index: int, junk: str, skew: int) -> None:
        method, path, options = forged(rig, channel, mutation, index, junk, skew)
        reply = rig.send(method, path, **options)
        assert 400 <= reply.status < 500, (channel, mutation, reply)

    await in_thread(prop)
    await rig.assert_nothing_accepted()


async def test_web_chat_socket_refuses_every_hello_without_the_key(rig: Rig) -> None:
    hello = st.builds(
        lambda key, extra: orjson.dumps({"type": "hello", "key": key, **extra}).decode(),
        st.sampled_from([*NEAR_MISS_KEYS, None, 1, []]) | st.text(max_size=40),
        st.dictionaries(
            st.sampled_from(["session_id", "text", "id"]), st.text(max_size=20), max_size=2
        ),
    )
    frame = (
        hello | st.text(max_size=200) | st.binary(max_size=200) | st.just(nested(100_000).decode())
    )

    @fuzz_settings(max_examples=80)
    @given(frames=st.lists(frame, min_size=1, max_size=3))
    @example(frames=[b""])  # a binary frame: was an unhandled KeyError and an abnormal close
    def prop(frames: list[str | bytes]) -> None:
        exchange = socket_exchange(rig, "/ws", frames)
        seen, code = asyncio.run_coroutine_threadsafe(exchange, rig.loop).result(30)
        assert "ready" not in seen and "start" not in seen, seen
        assert code in (4400, 4401), (seen, code)

    await in_thread(prop)
    await rig.assert_nothing_accepted()


async def test_replayed_timestamps_are_refused(rig: Rig) -> None:
    """DingTalk (signature_max_age, 5 min), Feishu (signature_max_age, 5 min) and WeCom (1 h)
    carry a signed timestamp; an old one is refused though signed correctly. Telegram has none:
    a replay there is a duplicate update id, dropped by the inbox (see the last test)."""
    hour = 3600
    ding = [(-360) * 1000, 360 * 1000, (-hour - 60) * 1000, (hour + 60) * 1000]
    for offset in ding:
        headers = rig.dingtalk_headers(int(time.time() * 1000) + offset)
        reply = await rig.request(
            "POST", "/dingtalk/webhook", body=rig.dingtalk_message(), headers=headers
        )
        assert reply.status == 401, (offset, reply)
    for offset in (-301, 301):
        body, headers = rig.feishu_request(
            orjson.dumps(rig.feishu_event()), timestamp=time.time() + offset
        )
        reply = await rig.request("POST", "/feishu/webhook", body=body, headers=headers)
        assert reply.status == 401, (offset, reply)
    for offset in (-hour - 60, hour + 60):
        query, body = rig.wecom_request(rig.wecom_message(), timestamp=time.time() + offset)
        reply = await rig.request("POST", "/wecom/webhook", body=body, query=query)
        assert (reply.status, reply.body) == (403, b"timestamp"), (offset, reply)
    await rig.assert_nothing_accepted()


async def test_the_same_requests_correctly_signed_are_accepted_once(rig: Rig) -> None:
    """The control: keep this test last. What the tests above forged is accepted when right,
    inside the replay windows, and a replay of it is a duplicate, not a second message."""
    await rig.assert_nothing_accepted()
    telegram = rig.telegram_update("control telegram")
    body, feishu = rig.feishu_request(
        orjson.dumps(rig.feishu_event("control feishu")), timestamp=time.time() - 240
    )
    query, wecom = rig.wecom_request(
        rig.wecom_message("control wecom"), timestamp=time.time() - 3500
    )
    ding = rig.dingtalk_message("control dingtalk")
    ding_headers = rig.dingtalk_headers(int((time.time() - 240) * 1000))  # window: 5 min
    for _replay in range(2):
        for path, payload, headers, raw_query in [
            ("/telegram/webhook", telegram, rig.telegram_headers(), ""),
            ("/feishu/webhook", body, feishu, ""),
            ("/wecom/webhook", wecom, {}, query),
            ("/dingtalk/webhook", ding, ding_headers, ""),
        ]:
            reply = await rig.request("POST", path, body=payload, headers=headers, query=raw_query)
            assert reply.status == 200, (path, reply)
    message = orjson.dumps(
        {"message_id": "control-1", "session_id": "s1", "message": "control webhook"}
    )
    assert (
        await rig.request("POST", "/api/v1/messages", body=message, headers=rig.bearer())
    ).status == 202
    assert (await rig.request("GET", "/v1/models", headers=rig.bearer())).status == 200
    assert await wait_until(lambda: len(rig.llm.requests) == 5, timeout=15)
    assert sorted(channel for channel, _ in rig.inbox()) == [
        "dingtalk",
        "feishu",
        "telegram",
        "webhook",
        "wecom",
    ]
    assert rig.server_errors() == [] and rig.tracebacks() == []
