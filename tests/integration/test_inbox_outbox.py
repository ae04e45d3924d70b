"""The durable path: inbox before acknowledgement, outbox with retries, crash recovery."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.openai_server import Fail, FakeOpenAI
from tests.support.gateway import GatewayFactory, RunningGateway, rows
from tests.support.waiting import wait_until
from tests.support.webhook_client import CALLBACK_SECRET, post_message, webhook_config


async def test_accept_dedupe_and_signed_callback(gateway_factory: GatewayFactory) -> None:
    async with CallbackReceiver(secret=CALLBACK_SECRET) as receiver:
        gw = await gateway_factory(webhook_config(receiver))
        assert await post_message(gw, "m-1", "hello hook") == (202, "accepted")
        assert await post_message(gw, "m-1", "hello hook") == (200, "duplicate")
        (reply,) = await receiver.wait_for(1)
        assert reply["text"] == "echo: hello hook"
        assert reply["in_reply_to"] == "m-1" and reply["metadata"] == {"ticket": 7}
        assert receiver.headers[0]["Idempotency-Key"] == f"reply-{reply['reply_id']}"
        assert receiver.bad_signatures == 0
        await asyncio.sleep(0.5)
        assert len(receiver.received) == 1
        assert 'dedupe_hits_total{channel="webhook"} 1.0' in await metrics(gw)


async def test_ordered_replies_per_conversation(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.latency = 0.02
    async with CallbackReceiver() as receiver:
        gw = await gateway_factory(webhook_config(receiver))
        for n in range(6):
            for session in ("x", "y"):
                await post_message(gw, f"{session}-{n}", f"{session}{n}", session=session)
        received = await receiver.wait_for(12)
        for session in ("x", "y"):
            texts = [r["text"] for r in received if r["session_id"] == session]
            assert texts == [f"echo: {session}{n}" for n in range(6)]


async def test_callback_failures_are_retried_then_delivered_once(
    gateway_factory: GatewayFactory,
) -> None:
    async with CallbackReceiver() as receiver:
        receiver.script(500, 503)
        gw = await gateway_factory(webhook_config(receiver))
        await post_message(gw, "r-1", "retry me")
        (reply,) = await receiver.wait_for(1)
        assert reply["text"] == "echo: retry me"
        await asyncio.sleep(0.5)
        assert len(receiver.received) == 1
        assert rows(gw, "select status, attempts from outbox") == [("sent", 3)]


async def test_client_error_dead_letters(gateway_factory: GatewayFactory) -> None:
    async with CallbackReceiver() as receiver:
        receiver.script(404)
        gw = await gateway_factory(webhook_config(receiver))
        await post_message(gw, "d-1", "nobody home")
        assert await wait_until(lambda: rows(gw, "select status from outbox") == [("dead",)])


async def test_stale_replies_expire_instead_of_flooding(gateway_factory: GatewayFactory) -> None:
    async with CallbackReceiver() as receiver:
        receiver.script(*([503] * 50))
        gw = await gateway_factory(webhook_config(receiver, max_age="1s"))
        await post_message(gw, "e-1", "too late")
        assert await wait_until(lambda: rows(gw, "select status from outbox") == [("expired",)])
        assert 'aibot_outbox_expired_total{channel="webhook"} 1.0' in await metrics(gw)


async def test_message_accepted_before_sigkill_is_answered_once_after_restart(
    gateway_factory: GatewayFactory,
    fake_llm: FakeOpenAI,
) -> None:
    async with CallbackReceiver() as receiver:
        fake_llm.latency = 30.0  # the model is still thinking when the process dies
        gw = await gateway_factory(webhook_config(receiver))
        assert await post_message(gw, "k-1", "survive the crash") == (202, "accepted")
        assert await wait_until(lambda: bool(fake_llm.requests)), "the model never got the call"
        await gw.kill()
        assert rows(gw, "select status from inbox") == [("pending",)]
        fake_llm.latency = 0.0
        await gw.start()
        (reply,) = await receiver.wait_for(1)
        assert reply["text"] == "echo: survive the crash"
        # The platform re-delivers after the crash: still one answer.
        assert await post_message(gw, "k-1", "survive the crash") == (200, "duplicate")
        await asyncio.sleep(0.7)
        assert len(receiver.received) == 1
        assert rows(gw, "select status from inbox") == [("done",)]


async def test_memory_survives_restart(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory()
    assert (await gw.chat("remember me", session="keep"))[0] == 200
    await gw.restart()
    assert (await gw.chat("still there?", session="keep"))[0] == 200
    contents = [m["content"] for m in fake_llm.requests[-1].json["messages"]]
    assert contents == ["remember me", "echo: remember me", "still there?"]


async def metrics(gw: RunningGateway) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{gw.url}/metrics") as response:
        return await response.text()


async def test_sigterm_finishes_work_in_flight(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    async with CallbackReceiver() as receiver:
        fake_llm.latency = 1.0
        gw = await gateway_factory(webhook_config(receiver))
        await post_message(gw, "t-1", "finish me")
        assert await wait_until(lambda: bool(fake_llm.requests))
        assert await gw.stop() == 0  # SIGTERM: clean exit after the answer went out
        assert [r["text"] for r in receiver.received] == ["echo: finish me"]
        assert rows(gw, "select status from inbox") == [("done",)]


async def test_model_failure_is_recorded_and_the_user_told(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    async with CallbackReceiver() as receiver:
        fake_llm.script(Fail(500), Fail(500))
        gw = await gateway_factory(webhook_config(receiver))
        await post_message(gw, "f-1", "will fail")
        (reply,) = await receiver.wait_for(1)
        # A short notice in the chat's language (no locale: ui.default_language, zh-CN), with
        # a reference to the log line that has the details.
        assert (
            reply["text"].startswith("⚠️ 模型暂时不可用，请稍后再试")
            and "HTTP 500" not in reply["text"]
        )
        reference = reply["text"].rsplit("编号 ", 1)[1].rstrip("）")
        assert any(
            '"message failed"' in line
            and f'"request_id":"{reference}' in line
            and "HTTP 500" in line
            for line in gw.log().splitlines()
        ), gw.log()[-2000:]
        status, error = rows(gw, "select status, error from inbox")[0]
        assert status == "failed" and "HTTP 500" in error
