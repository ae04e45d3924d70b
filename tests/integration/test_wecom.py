"""The WeCom channel in the real gateway process against the fake WeCom (callbacks and API)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from aibot.channels.wecom.doctor import wecom_checks
from aibot.config import WecomChannelConfig
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWecom
from tests.support.cli import ai_bot
from tests.support.gateway import GatewayFactory, RunningGateway


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    async with FakeWecom() as fake:
        yield fake


def values(wecom: FakeWecom, **extra: Any) -> dict[str, Any]:
    return {
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "secret": SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base": wecom.base_url,
        **extra,
    }


def setup(wecom: FakeWecom, **extra: Any) -> dict[str, Any]:
    return {
        "channels": {"wecom": values(wecom, **extra)},
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
    }


def webhook(gw: RunningGateway) -> str:
    return f"{gw.url}/wecom/webhook"


async def test_url_verification_and_a_message_answered_once_despite_redeliveries(
    gateway_factory: GatewayFactory,
    wecom: FakeWecom,
    fake_llm: FakeOpenAI,
) -> None:
    fake_llm.latency = 2.0  # the model is slow; WeCom must still get its 200 at once
    gw = await gateway_factory(setup(wecom))
    status, body, echo = await wecom.verify_url(webhook(gw))
    assert (status, body) == (200, echo.encode())

    # Our first two answers are "lost": WeCom delivers the same request 3 times in all.
    deliveries = await wecom.push(webhook(gw), wecom.text_xml("zhangsan", "你好，机器人"), lost=2)
    assert [d.status for d in deliveries] == [200, 200, 200]
    assert all(d.body == b"" and d.elapsed < 1.0 for d in deliveries)
    (sent,) = await wecom.wait_sent(1, "zhangsan")
    assert (sent.content, sent.msgtype, sent.agentid) == ("echo: 你好，机器人", "text", AGENT_ID)
    await asyncio.sleep(fake_llm.latency + 0.5)  # a second answer would have come by now
    assert len(wecom.sent) == 1 and len(fake_llm.requests) == 1


async def test_dedupe_survives_a_restart(
    gateway_factory: GatewayFactory, wecom: FakeWecom, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(setup(wecom))
    message = wecom.text_xml("lisi", "remember me", msg_id=7300000000000000001)
    await wecom.push(webhook(gw), message)
    await wecom.wait_sent(1, "lisi")
    await gw.restart()
    deliveries = await wecom.push(webhook(gw), message)  # a late re-delivery
    assert deliveries[-1].status == 200
    await wecom.push(webhook(gw), wecom.text_xml("lisi", "new question"))
    sent = await wecom.wait_sent(2, "lisi")
    assert [s.content for s in sent] == ["echo: remember me", "echo: new question"]
    assert [r.json["messages"][-1]["content"] for r in fake_llm.requests] == [
        "remember me",
        "new question",
    ]


async def test_expired_token_rate_limit_and_markdown(
    gateway_factory: GatewayFactory, wecom: FakeWecom, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = lambda body: "**好的**"
    gw = await gateway_factory(setup(wecom, reply_format="markdown", rate_limit_wait="1s"))
    await wecom.push(webhook(gw), wecom.text_xml("zhangsan", "one"))
    await wecom.wait_sent(1)
    wecom.expire_tokens()
    await wecom.push(webhook(gw), wecom.text_xml("zhangsan", "two"))
    await wecom.wait_sent(2)
    assert wecom.errcodes("message/send") == [0, 42001, 0]

    wecom.script(45009)
    started = time.monotonic()
    await wecom.push(webhook(gw), wecom.text_xml("zhangsan", "three"))
    sent = await wecom.wait_sent(3)
    assert time.monotonic() - started >= 1.0  # waited rate_limit_wait before trying again
    assert wecom.errcodes("message/send")[-2:] == [45009, 0]
    assert {(s.msgtype, s.content) for s in sent} == {("markdown", "**好的**")}


async def test_long_answer_split_and_non_text_notice(
    gateway_factory: GatewayFactory, wecom: FakeWecom, fake_llm: FakeOpenAI
) -> None:
    answer = "\n\n".join(f"第{n}段。" + "内容" * 300 for n in range(6))  # ~11 KB
    fake_llm.reply = lambda body: answer
    gw = await gateway_factory(setup(wecom))
    await wecom.push(webhook(gw), wecom.location_xml("wangwu"))
    await wecom.push(webhook(gw), wecom.event_xml("wangwu"))
    (notice,) = await wecom.wait_sent(1, "wangwu")
    assert "暂不支持" in notice.content and fake_llm.requests == []

    await wecom.push(webhook(gw), wecom.text_xml("wangwu", "long please"))
    await wecom.wait_sent(7, "wangwu")
    parts = wecom.sent_to("wangwu")[1:]
    assert all(len(p.content.encode()) <= 2048 and not p.truncated for p in parts)
    assert "".join(p.content for p in parts) == answer


async def test_forged_and_hostile_requests_are_refused(
    gateway_factory: GatewayFactory, wecom: FakeWecom, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(setup(wecom))
    impostor = FakeWecom(token="NotTheToken")
    deliveries = await impostor.push(webhook(gw), impostor.text_xml("zhangsan", "forged"))
    assert [d.status for d in deliveries] == [403, 403, 403]
    for language, says in [
        ("zh-CN", "msg_signature 校验不通过：企业微信后台（接收消息 → 设置API接收）的 Token"),
        ("en", "msg_signature does not match: the Token in the WeCom console"),
    ]:
        async with (
            aiohttp.ClientSession(headers={"Accept-Language": language}) as http,
            http.get(f"{gw.url}/readyz") as response,
        ):
            status = (await response.json())["channels"]["wecom"]
        refused = status["last_refused_callback"]
        assert says in refused and "channels.wecom.token" in refused, refused
    bomb = (
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<xml><Encrypt>&b;</Encrypt></xml>"
    )
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            webhook(gw),
            params=wecom.signed_query("x"),
            data=bomb,
        ) as response,
    ):
        assert response.status == 400
    assert fake_llm.requests == [] and wecom.sent == []


def doctor_config(wecom: FakeWecom, **extra: Any) -> WecomChannelConfig:
    return WecomChannelConfig.model_validate(values(wecom, **extra))


async def test_doctor_names_the_wrong_value(wecom: FakeWecom) -> None:
    good = await wecom_checks(doctor_config(wecom), None, "en")
    assert [(c.name, c.status) for c in good] == [
        ("wecom credentials", "ok"),
        ("wecom app", "ok"),
        ("wecom callback", "ok"),
    ]

    cases: list[tuple[dict[str, Any], str]] = [
        ({"corp_id": "wwNOTMINE"}, "corp_id"),
        ({"secret": "x" * 43}, "secret"),
        ({"secret": "short"}, "secret"),
        ({"agent_id": 1000099}, "agent_id"),
    ]
    for change, value in cases:
        checks = await wecom_checks(doctor_config(wecom, **change), None, "en")
        failed = [c for c in checks if c.status == "fail"]
        assert len(failed) == 1 and f"channels.wecom.{value}" in failed[0].fix, checks

    wecom.trusted_ips = {"10.1.2.3"}
    checks = await wecom_checks(doctor_config(wecom), None, "en")
    assert checks[1].status == "fail" and "127.0.0.1" in checks[1].fix
    assert "企业可信IP" in checks[1].fix


async def test_doctor_rows_read_in_chinese(wecom: FakeWecom) -> None:
    good = await wecom_checks(doctor_config(wecom), None, "zh-CN")
    bad, *_ = await wecom_checks(doctor_config(wecom, corp_id="wwNOTMINE"), None, "zh-CN")

    assert [(c.name, c.status) for c in good] == [
        ("企业微信凭证", "ok"),
        ("企业微信应用", "ok"),
        ("企业微信回调", "ok"),
    ]
    assert good[0].detail == f"已为企业 {CORP_ID} 取得 access token"
    assert good[1].detail.endswith("本机 IP 已在企业可信IP 中"), good[1]
    assert good[2].detail.startswith("用当前的 token、encoding_aes_key 和 corp_id 签名加密后")
    assert (bad.name, bad.status) == ("企业微信凭证", "fail")
    assert bad.fix == "channels.wecom.corp_id 不对：请在「我的企业 → 企业信息」复制企业ID"


async def test_doctor_checks_the_public_url_of_the_running_gateway(
    gateway_factory: GatewayFactory,
    wecom: FakeWecom,
) -> None:
    gw = await gateway_factory(setup(wecom))
    [*_, public] = await wecom_checks(doctor_config(wecom), gw.url, "en")
    assert (public.name, public.status) == ("wecom public URL", "ok")
    other_key = "b" * 43
    for change, value in [
        ({"token": "Changed1"}, "token"),
        ({"encoding_aes_key": other_key}, "encoding_aes_key"),
        ({"corp_id": "wwOTHER"}, "corp_id"),
    ]:
        [*_, public] = await wecom_checks(doctor_config(wecom, **change), gw.url, "en")
        assert public.status == "fail" and f"channels.wecom.{value}" in public.fix, public


async def test_ai_bot_doctor_reports_wecom_without_printing_secrets(
    wecom: FakeWecom,
    fake_llm: FakeOpenAI,
    tmp_path: Path,
) -> None:
    wrong_secret = "W" * 43
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "models": {
                    "default": "fake",
                    "providers": {
                        "fake": {
                            "base_url": fake_llm.base_url,
                            "api_key": "sk-fake-1234567890",
                            "model": "m",
                        }
                    },
                },
                "channels": {"wecom": values(wecom, secret=wrong_secret)},
            }
        ),
        encoding="utf-8",
    )

    run = await ai_bot(tmp_path, "doctor")

    assert run.code == 1, run.output
    assert "wecom credentials" in run.stdout and "errcode 40001" in run.stdout, run.output
    assert "channels.wecom.secret is wrong" in run.stdout, run.output
    assert "wecom callback" in run.stdout, run.output
    for secret in (wrong_secret, TOKEN, AES_KEY):
        assert secret not in run.output

    chinese = await ai_bot(tmp_path, "doctor", env={"LANG": "zh_CN.UTF-8"})
    assert "企业微信凭证" in chinese.stdout and "errcode 40001" in chinese.stdout, chinese.output
    assert "channels.wecom.secret 不对" in chinese.stdout, chinese.output
