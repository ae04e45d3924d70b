"""The open-platform client and the channel's send path against the fake, in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from aibot.channels.errors import PlatformError
from aibot.channels.feishu.channel import FeishuChannel, idempotency_key
from aibot.channels.feishu.client import FeishuApi, rate_limited
from aibot.channels.feishu.inbound import FeishuReply
from aibot.channels.feishu.verify import decrypt
from aibot.config import FeishuChannelConfig
from aibot.core.errors import SendError
from aibot.core.messages import Outbound
from tests.fakes.feishu_api import Fail, FakeFeishu
from tests.fakes.loopback import LoopbackServer
from tests.support.channel_context import bare_context

CHAT = "oc_1"


@pytest.fixture
async def fake() -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu() as fake:
        yield fake


@pytest.fixture
async def api(fake: FakeFeishu) -> AsyncIterator[FeishuApi]:
    api = FeishuApi(fake.app_id, fake.app_secret, fake.base_url, clock=fake.now)
    yield api
    await api.close()


def asked(fake: FakeFeishu) -> str:
    """A user's message the bot can reply to (no webhook: it is not pushed anywhere)."""
    envelope = fake.user_message(CHAT, "q", push=False)
    return str(envelope["event"]["message"]["message_id"])


def reply_body(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"msg_type": "text", "content": orjson.dumps({"text": text}).decode(), **extra}


async def test_token_cached_then_refreshed_30_minutes_before_expiry(
    fake: FakeFeishu,
    api: FeishuApi,
) -> None:
    first = await api.tenant_token()
    assert await api.tenant_token() == first and fake.token_requests == 1
    fake.advance(7200 - 1800 - 60)  # 31 min left: still cached
    assert await api.tenant_token() == first and fake.token_requests == 1
    fake.advance(120)  # 29 min left: fetched again, and Feishu issues a new one
    assert await api.tenant_token() != first and fake.token_requests == 2


async def test_invalid_token_refreshed_once(fake: FakeFeishu, api: FeishuApi) -> None:
    message_id = asked(fake)
    await api.tenant_token()
    fake.revoke_tokens()
    await api.call("POST", f"/open-apis/im/v1/messages/{message_id}/reply", body=reply_body())
    assert [c.code for c in fake.ops("reply")] == [99991663, 0]
    assert fake.token_requests == 2


async def test_rate_limit_errors_carry_the_wait(fake: FakeFeishu, api: FeishuApi) -> None:
    message_id = asked(fake)
    fake.script("reply", Fail.rate_limited(reset=7), Fail.frequency())
    path = f"/open-apis/im/v1/messages/{message_id}/reply"
    with pytest.raises(PlatformError) as limited:
        await api.call("POST", path, body=reply_body())
    assert (limited.value.status, limited.value.code, limited.value.retry_after) == (
        429,
        99991400,
        7.0,
    )
    with pytest.raises(PlatformError) as frequency:
        await api.call("POST", path, body=reply_body())
    assert rate_limited(frequency.value) and frequency.value.retry_after == 1.0


async def test_fake_enforces_uuid_limits_and_content(fake: FakeFeishu, api: FeishuApi) -> None:
    path = f"/open-apis/im/v1/messages/{asked(fake)}/reply"
    first = await api.call("POST", path, body=reply_body(uuid="u-1"))
    again = await api.call("POST", path, body=reply_body("other", uuid="u-1"))
    assert first["message_id"] == again["message_id"] and fake.texts(CHAT) == ["hi"]
    fake.advance(3601)  # a uuid is remembered for one hour
    await api.call("POST", path, body=reply_body(uuid="u-1"))
    assert fake.texts(CHAT) == ["hi", "hi"]
    cases: list[tuple[dict[str, Any], int]] = [
        ({"msg_type": "text", "content": {"text": "not a string"}}, 230001),
        ({"msg_type": "post", "content": '{"zh_cn":{"content":[[{"tag":"blink"}]]}}'}, 230001),
        ({"msg_type": "interactive", "content": '{"elements":[]}'}, 230099),
        (reply_body("x" * 151 * 1024), 230025),
        (
            {
                "msg_type": "post",
                "content": orjson.dumps(
                    {"zh_cn": {"content": [[{"tag": "md", "text": "x" * 31 * 1024}]]}}
                ).decode(),
            },
            230025,
        ),
    ]
    for body, code in cases:
        with pytest.raises(PlatformError) as refused:
            await api.call("POST", path, body=body)
        assert refused.value.code == code, body
        fake.advance(1)  # stay under the 5 per second per chat limit


async def test_fake_limits_five_calls_per_second_per_chat(fake: FakeFeishu, api: FeishuApi) -> None:
    path = f"/open-apis/im/v1/messages/{asked(fake)}/reply"
    for _ in range(5):
        await api.call("POST", path, body=reply_body())
    with pytest.raises(PlatformError) as limited:
        await api.call("POST", path, body=reply_body())
    assert limited.value.status == 429 and limited.value.retry_after == 1.0


def channel(fake: FakeFeishu, **extra: Any) -> FeishuChannel:
    config = FeishuChannelConfig(
        app_id=fake.app_id,
        app_secret=fake.app_secret,
        verification_token="t",
        api_base=fake.base_url,
        **extra,
    )
    return FeishuChannel(config, bare_context())


async def test_send_errors_say_whether_to_retry(fake: FakeFeishu) -> None:
    target = FeishuReply(asked(fake), thread=False).target(CHAT)
    sender = channel(fake)
    outbound = Outbound("feishu", "s", "answer", target, time.time(), outbox_id=7)
    fake.script("reply", Fail(230002, "Bot is not in the chat."), Fail.rate_limited(reset=3))
    with pytest.raises(SendError) as gone:
        await sender.send(outbound)
    assert gone.value.permanent
    with pytest.raises(SendError) as limited:
        await sender.send(outbound)
    assert not limited.value.permanent and limited.value.retry_after == 3.0
    await sender.send(outbound)
    assert fake.texts(CHAT) == ["answer"]
    assert fake.ops("reply")[-1].body["uuid"] == idempotency_key(outbound, 0)
    await sender.close()


async def test_recalled_question_is_answered_in_its_chat(fake: FakeFeishu) -> None:
    question = fake.messages[asked(fake)]
    question.deleted = True
    sender = channel(fake, reply_format="text")
    target = FeishuReply(question.message_id, thread=False).target(CHAT)
    await sender.send(Outbound("feishu", "s", "still answered", target, time.time(), outbox_id=1))
    assert fake.texts(CHAT) == ["still answered"]
    assert [c.code for c in fake.calls] == [230011, 0]
    await sender.close()


async def test_fake_pusher_enforces_the_deadline_and_redelivers() -> None:
    seen: list[bytes] = []

    async def slow_then_fast(request: web.Request) -> web.Response:
        seen.append(await request.read())
        if len(seen) == 1:
            await asyncio.sleep(1.0)  # past the deadline: counts as not delivered
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", slow_then_fast)
    server = LoopbackServer()
    receiver = await server.start(app)
    try:
        async with FakeFeishu(encrypt_key="k", deadline=0.2, retry_schedule=(0.1, 0.1)) as fake:
            fake.webhook_url = f"{receiver}/hook"
            envelope = fake.user_message(CHAT, "hello")
            await fake.wait_for(lambda: len(fake.deliveries) == 2, timeout=5)
            assert [d.status for d in fake.deliveries] == [None, 200]
            assert fake.deliveries[0].elapsed < 0.5
            # Each attempt is encrypted afresh (random IV) but carries the same event.
            assert seen[0] != seen[1]
            plain = [orjson.loads(decrypt("k", orjson.loads(raw)["encrypt"])) for raw in seen]
            assert plain[0] == plain[1] == envelope
    finally:
        await server.stop()
