"""The fake WeCom API driven by wechatpy's client: an independent client built against the real
service must get what it expects (token shape, errcodes, its own refetch-and-retry on 42001)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from tests.fakes.loopback import LoopbackServer
from tests.fakes.wecom_api import AGENT_ID, CORP_ID, SECRET, FakeWecom


class PointedClient(WeChatClient):  # type: ignore[misc]
    """wechatpy hard-codes gettoken's address; everything else follows API_BASE_URL."""

    def __init__(self, base_url: str, corp_id: str, secret: str) -> None:
        super().__init__(corp_id, secret, timeout=5)
        self.API_BASE_URL = f"{base_url}/cgi-bin/"

    def fetch_access_token(self) -> Any:
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
        )


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    async with FakeWecom() as fake:
        yield fake


async def test_wechatpy_sends_through_the_fake_and_survives_expiry(wecom: FakeWecom) -> None:
    client = PointedClient(wecom.base_url, CORP_ID, SECRET)
    answer = await asyncio.to_thread(client.message.send_text, AGENT_ID, "zhangsan|ghost", "hi")
    assert (answer["errcode"], answer["invaliduser"]) == (0, "ghost")
    wecom.expire_tokens()
    await asyncio.to_thread(client.message.send_text, AGENT_ID, "zhangsan", "again")
    assert [s.content for s in wecom.sent] == ["hi", "again"]
    assert wecom.errcodes("message/send") == [0, 42001, 0] and wecom.token_requests == 2


@pytest.mark.parametrize(
    ("corp", "secret", "code"),
    [
        ("wwWRONG", SECRET, 40013),
        (CORP_ID, "x" * len(SECRET), 40001),
    ],
)
async def test_wechatpy_sees_the_credential_errcodes(
    wecom: FakeWecom, corp: str, secret: str, code: int
) -> None:
    client = PointedClient(wecom.base_url, corp, secret)
    with pytest.raises(WeChatClientException) as caught:
        await asyncio.to_thread(client.fetch_access_token)
    assert caught.value.errcode == code


async def test_the_fake_enforces_what_wecom_enforces(wecom: FakeWecom) -> None:
    client = PointedClient(wecom.base_url, CORP_ID, SECRET)
    await asyncio.to_thread(client.message.send_text, AGENT_ID, "lisi", "中" * 700)
    assert wecom.sent[0].truncated and len(wecom.sent[0].content.encode()) == 2046
    for n in range(31):
        await asyncio.to_thread(client.message.send_text, AGENT_ID, "wangwu", str(n))
    assert len(wecom.sent_to("wangwu")) == 30 and len(wecom.dropped) == 1  # dropped silently
    wecom.trusted_ips = {"10.0.0.1"}
    with pytest.raises(WeChatClientException) as caught:
        await asyncio.to_thread(client.message.send_text, AGENT_ID, "lisi", "x")
    assert caught.value.errcode == 60020 and "from ip: 127.0.0.1" in caught.value.errmsg
    wecom.trusted_ips = None
    with pytest.raises(WeChatClientException) as caught:
        await asyncio.to_thread(client.message.send_text, AGENT_ID + 1, "lisi", "x")
    assert caught.value.errcode == 301002


async def test_the_pusher_retries_like_wecom(wecom: FakeWecom) -> None:
    """5 s timeout (shortened here), 3 tries in all, a non-200 counts as a failure."""
    answers = [None, 500, 200, 200]  # None: hang past the timeout

    async def callback(request: web.Request) -> web.Response:
        status = answers.pop(0)
        if status is None:
            await asyncio.sleep(2)
            status = 200
        return web.Response(status=status)

    app = web.Application()
    app.router.add_post("/cb", callback)
    server = LoopbackServer()
    url = await server.start(app) + "/cb"
    wecom.callback_timeout, wecom.retry_gap = 0.3, 0.0
    try:
        deliveries = await wecom.push(url, wecom.text_xml("zhangsan", "hi"))
        assert [d.status for d in deliveries] == [None, 500, 200]
        assert 0.3 <= deliveries[0].elapsed < 1.0
        answers[:] = [500, 500, 500, 200]
        assert [d.status for d in await wecom.push(url, "x")] == [500, 500, 500]  # gives up
    finally:
        await server.stop()
