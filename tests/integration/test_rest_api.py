"""`POST /api/v1/chat` against the real gateway process and the fake model."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from tests.fakes.openai_server import Fail, FakeOpenAI
from tests.support.gateway import GatewayFactory


def user_turns(fake: FakeOpenAI) -> list[str]:
    return [m["content"] for m in fake.requests[-1].json["messages"] if m["role"] == "user"]


async def test_memory_commands_and_models(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(
        {
            "models": {
                "providers": {
                    "second": {
                        "base_url": fake_llm.base_url,
                        "api_key": "sk-x",
                        "model": "second-model",
                    }
                }
            },
            "session": {"system_prompt": "Be brief."},
        }
    )
    status, body = await gw.chat("first 你好")
    assert status == 200 and body["reply"] == "echo: first 你好"
    assert body["provider"] == "fake" and body["usage"]["completion_tokens"] > 0
    await gw.chat("second")
    messages = fake_llm.requests[-1].json["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert [m["content"] for m in messages[1:]] == ["first 你好", "echo: first 你好", "second"]
    # Other sessions do not see this one's memory.
    await gw.chat("elsewhere", session="s2")
    assert user_turns(fake_llm) == ["elsewhere"]

    status, body = await gw.chat("/model second")
    assert body["command"] is True and "second" in body["reply"]
    requests_before = len(fake_llm.requests)
    await gw.chat("/help")
    assert len(fake_llm.requests) == requests_before  # commands never reach the model
    await gw.chat("third")
    assert fake_llm.requests[-1].json["model"] == "second-model"
    assert user_turns(fake_llm) == ["first 你好", "second", "third"]

    status, body = await gw.chat("/new")
    assert body["reply"] == "已开始新的对话。"  # ui.default_language: zh-CN
    await gw.chat("fresh")
    assert user_turns(fake_llm) == ["fresh"]
    assert fake_llm.requests[-1].json["model"] == "second-model"  # /reset keeps the model


async def test_streaming_sse(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{gw.url}/api/v1/chat",
            headers=gw.headers,
            json={"session_id": "st", "message": "stream this please", "stream": True},
        ) as response,
    ):
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            orjson.loads(line[5:]) async for line in response.content if line.startswith(b"data:")
        ]
    deltas = [e["text"] for e in events if e["type"] == "delta"]
    assert len(deltas) > 1
    assert events[-1]["type"] == "done"
    assert "".join(deltas) == events[-1]["reply"] == "echo: stream this please"


async def test_auth_validation_and_limits(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory({"server": {"max_body_bytes": 4096}})
    url = f"{gw.url}/api/v1/chat"
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            async with http.post(
                url, json={"session_id": "a", "message": "hi"}, headers=headers
            ) as response:
                assert response.status == 401
                assert (await response.json())["error"]["code"] == "invalid_api_key"
        # Without a key an invalid body is still a 401: validation details are for callers.
        for path in ("/api/v1/chat", "/v1/chat/completions"):
            async with http.post(gw.url + path, json={"session_id": "bad id!"}) as response:
                assert response.status == 401, path
        async with http.post(
            url, json={"session_id": "bad id!", "message": ""}, headers=gw.headers
        ) as response:
            assert response.status == 422
            problem = (await response.json())["error"]["message"]
            assert "session_id" in problem and "message" in problem
        async with http.post(
            url, json={"session_id": "a", "message": "x" * 10_000}, headers=gw.headers
        ) as response:
            assert response.status == 413


async def test_model_failure_is_a_502_and_not_remembered(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory()
    fake_llm.script(Fail(500), Fail(500))  # max_retries 1 → two attempts, both fail
    status, body = await gw.chat("doomed")
    assert status == 502 and body["error"]["code"] == "model_unavailable"
    assert "HTTP 500" in body["error"]["message"]
    status, body = await gw.chat("works now")
    assert status == 200
    assert user_turns(fake_llm) == ["works now"]


async def test_back_pressure_is_a_503_with_retry_after(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory({"dispatcher": {"max_concurrency": 1, "max_queue": 2}})
    fake_llm.latency = 1.5  # long enough that all six arrive while the first still runs
    results = await asyncio.gather(*(gw.chat(f"m{n}", session=f"s{n}") for n in range(6)))
    statuses = [status for status, _ in results]
    # Two queued, plus one more if the first had already left the queue to run when the
    # others arrived; everything beyond that is refused rather than buffered.
    assert statuses.count(200) in (2, 3), statuses
    assert statuses.count(503) == 6 - statuses.count(200), statuses
    refused = next(body for status, body in results if status == 503)
    assert refused["error"]["code"] == "overloaded"
