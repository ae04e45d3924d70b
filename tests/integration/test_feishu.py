"""The Feishu channel in the real gateway process against the fake open platform."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from pydantic import SecretStr

from aibot.channels.feishu.doctor import feishu_checks
from aibot.config import FeishuChannelConfig, ServerConfig
from tests.fakes.feishu_api import Fail, FakeFeishu, LoseResponse
from tests.fakes.openai_server import FakeOpenAI
from tests.support.feishu_gateway import KEY, SECRET, TOKEN, feishu_config
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.gateway_calls import metric
from tests.support.waiting import eventually

DM = "oc_dm1"
GROUP = "oc_group1"


@pytest.fixture
async def lark() -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu(
        encrypt_key=KEY, verification_token=TOKEN, app_secret=SECRET, retry_schedule=(0.3, 0.6, 1.2)
    ) as fake:
        yield fake


def feishu(lark: FakeFeishu, **extra: Any) -> dict[str, Any]:
    return feishu_config(lark, **extra)


def last_prompt(fake: FakeOpenAI) -> str:
    return str(fake.requests[-1].json["messages"][-1]["content"])


async def post(gw: RunningGateway, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{gw.url}/feishu/webhook", data=body, headers=headers) as response,
    ):
        return response.status


async def test_challenge_and_refusals(
    gateway_factory: GatewayFactory, lark: FakeFeishu, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(feishu(lark))
    status, answer = await lark.url_verification("abc-123")
    assert (status, orjson.loads(answer)) == (200, {"challenge": "abc-123"})

    event = lark.envelope(
        {
            "message": {
                "message_id": "om_x",
                "chat_id": DM,
                "chat_type": "p2p",
                "message_type": "text",
                "content": '{"text":"hi"}',
            }
        }
    )
    body, headers = lark.signed_request(event)
    tampered = {**headers, "X-Lark-Signature": "0" * 64}
    stale_body, stale = lark.signed_request(event, timestamp=1_700_000_000)
    wrong_token = lark.signed_request({**event, "header": {**event["header"], "token": "x"}})
    assert await post(gw, body, tampered) == 401
    assert await post(gw, stale_body, stale) == 401
    assert await post(gw, *wrong_token) == 401
    assert await post(gw, b'{"encrypt":"bm90IGVuY3J5cHRlZA=="}', {}) == 400
    assert await post(gw, orjson.dumps(event), {}) == 400  # plaintext while a key is set
    assert await post(gw, b"[1,2", {}) == 400
    assert await post(gw, b"x" * 2_000_000, {}) == 413
    await asyncio.sleep(0.3)
    assert fake_llm.requests == []  # nothing refused reached the model


async def test_private_message_answered_fast_through_reply_api(
    gateway_factory: GatewayFactory,
    lark: FakeFeishu,
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.latency = 2.0
    fake_llm.reply = lambda body: "**bold** answer"
    await gateway_factory(feishu(lark))
    asked = lark.user_message(DM, "hello 你好")
    (text,) = await lark.wait_texts(DM, timeout=15)
    assert text == "**bold** answer"
    (delivery,) = lark.deliveries
    assert delivery.status == 200 and delivery.elapsed < 1.0  # the model took 2 s
    (sent,) = lark.bot_messages(DM)
    assert sent.msg_type == "post" and sent.parent_id == asked["event"]["message"]["message_id"]
    assert sent.content["zh_cn"]["content"][0][0]["tag"] == "md"
    assert sent.uuid and len(sent.uuid) <= 50
    assert last_prompt(fake_llm) == "hello 你好"


async def test_resent_message_with_new_event_ids_answered_once_across_restart(
    gateway_factory: GatewayFactory,
    lark: FakeFeishu,
    fake_llm: FakeOpenAI,
) -> None:
    gw = await gateway_factory(feishu(lark))
    asked = lark.user_message(DM, "only once")
    await lark.wait_texts(DM, timeout=10)

    async def resend_acknowledged() -> None:
        event_id = lark.resend(asked)["header"]["event_id"]
        await lark.wait_for(
            lambda: any(d.event_id == event_id and d.status == 200 for d in lark.deliveries)
        )

    await resend_acknowledged()
    await gw.restart()
    await resend_acknowledged()
    await asyncio.sleep(1.0)  # a second answer would be out by now
    assert lark.texts(DM) == ["echo: only once"]
    assert len(fake_llm.requests) == 1


async def test_undelivered_event_is_pushed_again(
    gateway_factory: GatewayFactory, lark: FakeFeishu
) -> None:
    config = feishu(lark)
    # Feishu re-sends after 15 s, 5 min, …; scaled down, and enough tries to outlast a slow
    # start on a loaded machine (a gateway took over 12 s to start under a load of 16)
    lark.retry_schedule = (0.2, *[3.0] * 30)
    lark.user_message(DM, "are you there")  # the gateway is not up yet: refused, re-sent
    await gateway_factory(config)
    (text,) = await lark.wait_texts(DM, timeout=30)
    assert text == "echo: are you there"
    assert lark.deliveries[0].status is None and lark.deliveries[-1].status == 200


async def test_group_mentions(
    gateway_factory: GatewayFactory, lark: FakeFeishu, fake_llm: FakeOpenAI
) -> None:
    await gateway_factory(feishu(lark))
    lark.user_message(GROUP, "people talking", chat_type="group")
    lark.user_message(
        GROUP,
        "@_user_1 people talking to @_user_1",
        chat_type="group",
        mentions=[("ou_ann", "Ann")],
    )
    lark.user_message(
        GROUP,
        "@_user_1 ask @_user_2 please",
        chat_type="group",
        mentions=[("ou_bot", "ai-bot"), ("ou_ann", "Ann")],
    )
    (text,) = await lark.wait_texts(GROUP, timeout=10)
    assert text == "echo: ask @Ann please"
    post = {
        "title": "Q",
        "content": [
            [
                {"tag": "at", "user_id": "@_user_1"},
                {"tag": "text", "text": " see "},
                {"tag": "a", "text": "docs", "href": "https://x.y"},
            ]
        ],
    }
    lark.user_message(
        GROUP, chat_type="group", message_type="post", content=post, mentions=[("ou_bot", "ai-bot")]
    )
    await lark.wait_texts(GROUP, 2, timeout=10)
    assert last_prompt(fake_llm) == "Q\n see [docs](https://x.y)"
    assert len(fake_llm.requests) == 2  # the unaddressed messages never reached it


async def test_replies_survive_token_expiry_rate_limits_and_lost_responses(
    gateway_factory: GatewayFactory,
    lark: FakeFeishu,
) -> None:
    await gateway_factory(feishu(lark))
    lark.user_message(DM, "first")
    await lark.wait_texts(DM, timeout=10)
    fetched = lark.token_requests
    lark.revoke_tokens()  # the cached token is refused: fetched again once, the reply retried
    lark.user_message(DM, "second")
    await lark.wait_texts(DM, 2, timeout=10)
    assert lark.token_requests == fetched + 1
    assert [c.code for c in lark.ops("reply")][-2:] == [99991663, 0]

    lark.script("reply", Fail.rate_limited(reset=2), Fail.frequency())
    lark.user_message(DM, "slow down")
    await lark.wait_texts(DM, 3, timeout=15)
    limited, frequency, sent = lark.ops("reply")[-3:]
    assert frequency.at - limited.at >= 1.9  # x-ogw-ratelimit-reset: 2
    assert (limited.status, frequency.code, sent.code) == (429, 230020, 0)

    lark.script("reply", LoseResponse())  # Feishu sent it, but the answer never came back
    lark.user_message(DM, "exactly once")
    await lark.wait_for(lambda: len(lark.ops("reply")) >= 7)
    await asyncio.sleep(0.5)
    lost, retry = lark.ops("reply")[-2:]
    assert lost.status == 0 and lost.body["uuid"] == retry.body["uuid"]
    assert lark.texts(DM) == [
        "echo: first",
        "echo: second",
        "echo: slow down",
        "echo: exactly once",
    ]


async def test_card_refused_falls_back_to_text(
    gateway_factory: GatewayFactory, lark: FakeFeishu, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = lambda body: "# Title\n\n- item"
    await gateway_factory(feishu(lark, reply_format="card"))
    lark.script("reply", Fail.card_error())
    lark.user_message(DM, "card please")
    await lark.wait_texts(DM, timeout=10)
    (sent,) = lark.bot_messages(DM)
    assert sent.msg_type == "text" and sent.text == "# Title\n\n- item"
    lark.user_message(DM, "again")
    await lark.wait_texts(DM, 2, timeout=10)
    assert lark.bot_messages(DM)[1].msg_type == "interactive"


async def test_long_answer_split_under_limits(
    gateway_factory: GatewayFactory, lark: FakeFeishu, fake_llm: FakeOpenAI
) -> None:
    answer = "\n\n".join(f"第{n}段。" + "中文内容" * 400 for n in range(30))
    fake_llm.reply = lambda body: answer
    await gateway_factory(feishu(lark))
    lark.user_message(DM, "long please")
    await lark.wait_for(lambda: "".join(lark.texts(DM)).count("段") >= 30, timeout=20)
    replies = lark.ops("reply")
    assert len(replies) > 1 and all(c.code == 0 for c in replies)
    assert len({c.body["uuid"] for c in replies}) == len(replies)
    assert all(len(orjson.dumps(c.body)) <= 30 * 1024 for c in replies)
    assert "".join(lark.texts(DM)).replace("\n", "") == answer.replace("\n", "")


async def test_streamed_card_becomes_the_answer_or_gives_way_to_one_message(
    gateway_factory: GatewayFactory,
    lark: FakeFeishu,
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.chunk_delay = 0.025
    answer = " ".join(f"word{n}" for n in range(60)) + " **done**"
    fake_llm.reply = lambda body: answer
    gw = await gateway_factory(feishu(lark, stream=True, stream_interval=0.5))
    lark.user_message(DM, "stream it")
    await lark.wait_for(lambda: lark.texts(DM) == [answer], timeout=15)
    # The preview can show the whole answer before the reply's own edit finishes the card:
    # the refusal below is meant for the second answer, so the first must be delivered.
    async with aiohttp.ClientSession() as http:

        async def delivered() -> bool:
            total = "aibot_messages_out_total"
            return await metric(http, gw, total, channel="feishu", outcome="sent") >= 1

        assert await eventually(delivered, timeout=15)
    (card,) = lark.bot_messages(DM)
    assert card.msg_type == "interactive" and card.patches >= 2

    lark.script("patch", Fail.card_error())  # Feishu refuses the card half-way
    lark.user_message(DM, "stream again")
    await lark.wait_for(lambda: lark.texts(DM) == [answer, answer], timeout=15)
    assert [m.msg_type for m in lark.bot_messages(DM)] == ["interactive", "post"]
    assert lark.ops("delete")  # the half-written card was recalled, not left beside it


async def test_doctor_checks_credentials_and_own_webhook(
    gateway_factory: GatewayFactory, lark: FakeFeishu
) -> None:
    config = feishu(lark)
    section = FeishuChannelConfig(**config["channels"]["feishu"])
    server = ServerConfig(port=config["server"]["port"])
    [_, down] = await feishu_checks(section, server, "en")
    assert down.status == "warn" and "not running" in down.detail

    await gateway_factory(config)
    ok, hook = await feishu_checks(section, server, "en")
    assert ok.status == "ok" and "ou_bot" in ok.detail
    assert hook.status == "ok" and "challenge echoed" in hook.detail, hook
    assert hook.detail.startswith("encrypted + signed; POST /feishu/webhook → HTTP 200; "), hook
    [_, hook_zh] = await feishu_checks(section, server, "zh-CN")  # steps in Chinese punctuation
    assert hook_zh.detail == "已加密并签名；POST /feishu/webhook → HTTP 200；challenge 已原样返回"

    other_key = section.model_copy(update={"encrypt_key": SecretStr("not-the-gateway-key")})
    [_, refused] = await feishu_checks(other_key, server, "en")
    assert refused.status == "fail" and "HTTP 400" in refused.detail
    wrong = section.model_copy(update={"app_secret": SecretStr("nope")})
    [bad] = await feishu_checks(wrong, server, "en")
    assert bad.status == "fail" and "app_secret" in bad.fix


async def test_doctor_rows_read_in_chinese(lark: FakeFeishu) -> None:
    config = feishu(lark)
    section = FeishuChannelConfig(**config["channels"]["feishu"])
    server = ServerConfig(port=config["server"]["port"])  # no gateway runs there

    ok, down = await feishu_checks(section, server, "zh-CN")
    wrong = section.model_copy(update={"app_secret": SecretStr("nope")})
    [bad] = await feishu_checks(wrong, server, "zh-CN")

    assert (ok.name, ok.status) == ("飞书", "ok") and ok.detail.startswith("应用 "), ok
    assert "机器人 open_id ou_bot（webhook 模式）" in ok.detail, ok
    assert (down.name, down.status) == ("飞书事件回调", "warn")
    assert down.detail.endswith("/feishu/webhook 上没有运行中的网关"), down
    assert down.fix == "请先启动 `ai-bot run`，再运行一次 `ai-bot doctor` 测试事件回调"
    assert (bad.status, bad.fix) == (
        "fail",
        "channels.feishu.app_secret 不对：请重新复制 App Secret",
    )
    assert bad.detail.startswith("凭证被拒绝："), bad


async def test_long_connection_without_lark_oapi_reports_how_to_install(
    gateway_factory: GatewayFactory,
    lark: FakeFeishu,
    tmp_path: Path,
) -> None:
    hide = tmp_path / "hide-lark"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text('import sys\nsys.modules["lark_oapi"] = None\n')
    gw = await gateway_factory(feishu(lark, mode="websocket"), env={"PYTHONPATH": str(hide)})
    async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/readyz") as response:
        state = (await response.json())["channels"]["feishu"]
    assert state["ok"] is False  # read in zh-CN, the language of a reader who names none
    assert state["error"] == "未安装 lark-oapi：请运行 pip install 'ai-bot[feishu-ws]'"


async def test_long_connection_runs_beside_the_gateway(
    gateway_factory: GatewayFactory, lark: FakeFeishu
) -> None:
    """lark-oapi loads in its own thread after the gateway is up; the fake grants a bootstrap
    URL but serves no pbbp2 WebSocket, so the SDK's reconnecting must show in /readyz."""
    gw = await gateway_factory(feishu(lark, mode="websocket"))

    async def state() -> dict[str, Any]:
        async with (
            aiohttp.ClientSession(headers={"Accept-Language": "en"}) as http,
            http.get(f"{gw.url}/readyz") as response,
        ):
            result: dict[str, Any] = (await response.json())["channels"]["feishu"]
            return result

    assert (await state())["mode"] == "websocket"
    for _ in range(100):
        current = await state()
        if current["error"]:
            break
        await asyncio.sleep(0.2)
    assert current["ok"] is False and "long connection down" in current["error"]
    assert "connect failed" in gw.log()  # the SDK's own words are in the log
