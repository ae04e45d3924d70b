"""The OpenAI fake, checked against the official ``openai`` SDK as the wire-format oracle.

Every gateway provider test trusts this fake; if the SDK parses it the way it parses the real
service, our client code tested against it will also work against the real thing.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletionChunk

from tests.fakes.openai_server import (
    Fail,
    FakeOpenAI,
    GarbageBody,
    Hang,
    MalformedChunk,
    Reply,
    Truncate,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
HELLO: Any = [{"role": "user", "content": "hello"}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(api_key="sk-test") as server:
        yield server


@pytest.fixture
async def client(fake: FakeOpenAI) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="sk-test", max_retries=0, timeout=5
    ) as sdk:
        yield sdk


async def collect(stream: openai.AsyncStream[ChatCompletionChunk]) -> list[ChatCompletionChunk]:
    return [chunk async for chunk in stream]


def deltas(chunks: list[ChatCompletionChunk], field: str) -> list[str]:
    """The non-empty ``field`` values of the choice deltas, in order (extra fields included)."""
    out = []
    for chunk in chunks:
        for choice in chunk.choices:
            value = getattr(choice.delta, field, None)
            if value:
                out.append(value)
    return out


async def test_non_stream_completion(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    resp = await client.chat.completions.create(model="any-model", messages=HELLO)

    assert resp.object == "chat.completion"
    assert resp.id.startswith("chatcmpl-")
    assert resp.model == "any-model"
    choice = resp.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "echo: hello"
    assert choice.finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.usage.completion_tokens > 0

    [recorded] = fake.requests
    assert recorded.path == "/v1/chat/completions"
    assert recorded.headers["authorization"] == "Bearer sk-test"
    assert recorded.json["messages"] == HELLO


async def test_stream_with_usage(client: openai.AsyncOpenAI) -> None:
    chunks = await collect(
        await client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "a longer message"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )

    assert chunks[0].choices[0].delta.role == "assistant"
    content = deltas(chunks, "content")
    assert "".join(content) == "echo: a longer message"
    assert all(len(part) <= 4 for part in content)
    assert len({c.id for c in chunks}) == 1
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


async def test_stream_without_usage_has_no_usage_chunk(client: openai.AsyncOpenAI) -> None:
    chunks = await collect(
        await client.chat.completions.create(model="m", messages=HELLO, stream=True)
    )

    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


async def test_reasoning_content() -> None:
    async with (
        FakeOpenAI(reasoning="let me think", chunk_size=5) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as sdk,
    ):
        resp = await sdk.chat.completions.create(model="m", messages=HELLO)
        message = resp.choices[0].message
        assert message.content == "echo: hello"
        assert (message.model_extra or {})["reasoning_content"] == "let me think"

        chunks = await collect(
            await sdk.chat.completions.create(model="m", messages=HELLO, stream=True)
        )
        assert "".join(deltas(chunks, "reasoning_content")) == "let me think"
        assert "".join(deltas(chunks, "content")) == "echo: hello"
        first_content = next(i for i, c in enumerate(chunks) if deltas([c], "content"))
        last_reasoning = max(i for i, c in enumerate(chunks) if deltas([c], "reasoning_content"))
        assert last_reasoning < first_content


@pytest.mark.parametrize("chunk_size", [4, 100])
async def test_think_tags_are_split_across_chunks(chunk_size: int) -> None:
    async with (
        FakeOpenAI(reasoning="plan", think_tags=True, chunk_size=chunk_size) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as sdk,
    ):
        resp = await sdk.chat.completions.create(model="m", messages=HELLO)
        assert resp.choices[0].message.content == "<think>plan</think>echo: hello"
        assert "reasoning_content" not in (resp.choices[0].message.model_extra or {})

        chunks = await collect(
            await sdk.chat.completions.create(model="m", messages=HELLO, stream=True)
        )
        content = deltas(chunks, "content")
        assert "".join(content) == "<think>plan</think>echo: hello"
        assert content[0] == "<thi"
        assert not any("<think>" in part or "</think>" in part for part in content)
        if chunk_size == 100:  # even when everything would fit in one delta
            assert content == ["<thi", "nk>plan</th", "ink>echo: hello"]


async def test_models_list(client: openai.AsyncOpenAI) -> None:
    models = [m async for m in client.models.list()]

    assert [m.id for m in models] == ["fake-model"]
    assert models[0].object == "model"


async def test_wrong_api_key_is_401(fake: FakeOpenAI) -> None:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="wrong", max_retries=0) as sdk:
        with pytest.raises(openai.AuthenticationError) as caught:
            await sdk.chat.completions.create(model="m", messages=HELLO)
        with pytest.raises(openai.AuthenticationError):
            await sdk.models.list()

    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert caught.value.type == "invalid_request_error"
    assert caught.value.param is None


async def test_missing_api_key_is_401_and_does_not_consume_script(fake: FakeOpenAI) -> None:
    fake.script(Reply("scripted"))
    async with aiohttp.ClientSession() as http:
        url = f"{fake.base_url}/chat/completions"
        async with http.post(url, json={"model": "m", "messages": HELLO}) as resp:
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "invalid_api_key"
        auth = {"Authorization": "Bearer sk-test"}
        async with http.post(url, json={"model": "m", "messages": HELLO}, headers=auth) as resp:
            body = await resp.json()
    assert body["choices"][0]["message"]["content"] == "scripted"


async def test_scripted_429_carries_retry_after(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.script(Fail(status=429, retry_after=1.5))
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="m", messages=HELLO)

    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "1.5"
    assert caught.value.code == "rate_limit_exceeded"
    # The script is used up: the next request is answered normally.
    resp = await client.chat.completions.create(model="m", messages=HELLO)
    assert resp.choices[0].message.content == "echo: hello"


async def test_sdk_retries_honour_retry_after(fake: FakeOpenAI) -> None:
    fake.script(Fail(status=429, retry_after=0.3), Fail(status=503, retry_after=0.05))
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=2) as sdk:
        started = time.monotonic()
        resp = await sdk.chat.completions.create(model="m", messages=HELLO)

    assert resp.choices[0].message.content == "echo: hello"
    assert len(fake.requests) == 3
    assert time.monotonic() - started >= 0.3


async def test_scripted_500(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(Fail(status=500))
    with pytest.raises(openai.InternalServerError) as caught:
        await client.chat.completions.create(model="m", messages=HELLO, stream=True)

    assert caught.value.status_code == 500
    assert caught.value.type == "server_error"
    assert "retry-after" not in caught.value.response.headers


async def test_malformed_chunk_mid_stream(fake: FakeOpenAI, client: openai.AsyncOpenAI) -> None:
    fake.script(MalformedChunk(after_chunks=2))
    stream = await client.chat.completions.create(model="m", messages=HELLO, stream=True)
    received = []
    with pytest.raises(json.JSONDecodeError):
        async for chunk in stream:
            received.append(chunk)

    assert received[0].choices[0].delta.role == "assistant"
    assert len(received) == 2


async def test_malformed_chunk_stream_carries_on_after_the_bad_line(fake: FakeOpenAI) -> None:
    """A tolerant client that skips the bad line still gets the whole answer and [DONE]."""
    fake.script(MalformedChunk())
    body = {"model": "m", "messages": HELLO, "stream": True}
    async with (
        aiohttp.ClientSession(headers={"Authorization": "Bearer sk-test"}) as http,
        http.post(f"{fake.base_url}/chat/completions", json=body) as resp,
    ):
        lines = [line for line in (await resp.text()).split("\n\n") if line]

    assert "data: {not json" in lines
    assert lines[-1] == "data: [DONE]"
    good = [orjson.loads(line[6:]) for line in lines[:-1] if line != "data: {not json"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in good)
    assert text == "echo: hello"


async def test_truncated_stream_is_a_connection_error(
    fake: FakeOpenAI, client: openai.AsyncOpenAI
) -> None:
    fake.script(Truncate(after_chunks=2), Truncate())
    stream = await client.chat.completions.create(model="m", messages=HELLO, stream=True)
    received = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 2
    assert all(c.choices[0].finish_reason is None for c in received)

    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="m", messages=HELLO)


async def test_garbage_body(fake: FakeOpenAI) -> None:
    fake.script(GarbageBody(), MalformedChunk())
    auth = {"Authorization": "Bearer sk-test"}
    async with aiohttp.ClientSession(headers=auth) as http:
        for _ in range(2):
            url = f"{fake.base_url}/chat/completions"
            async with http.post(url, json={"model": "m", "messages": HELLO}) as resp:
                assert resp.status == 200
                with pytest.raises(orjson.JSONDecodeError):
                    orjson.loads(await resp.read())


async def test_hang_trips_client_timeout_then_recovers(fake: FakeOpenAI) -> None:
    fake.script(Hang(1.0))
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="sk-test", max_retries=0, timeout=0.2
    ) as sdk:
        with pytest.raises(openai.APITimeoutError):
            await sdk.chat.completions.create(model="m", messages=HELLO)
        resp = await sdk.chat.completions.create(model="m", messages=HELLO)
    assert resp.choices[0].message.content == "echo: hello"


async def test_reply_once_then_custom_reply_and_reset() -> None:
    def shout(body: dict[str, Any]) -> str:
        return str(body["messages"][-1]["content"]).upper()

    async with (
        FakeOpenAI(reply=shout) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as sdk,
    ):
        server.script(Reply("once"), Fail(status=500))

        async def ask() -> str | None:
            resp = await sdk.chat.completions.create(model="m", messages=HELLO)
            return resp.choices[0].message.content

        assert await ask() == "once"
        server.reset()
        assert server.requests == []
        assert await ask() == "HELLO"  # the pending Fail was dropped by reset()


async def test_chunk_delay_streams_events_separately() -> None:
    async with (
        FakeOpenAI(chunk_delay=0.01) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as sdk,
    ):
        chunks = await collect(
            await sdk.chat.completions.create(model="m", messages=HELLO, stream=True)
        )
    assert "".join(deltas(chunks, "content")) == "echo: hello"


async def test_bad_request_body_is_400(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="m", messages=HELLO, extra_body={"messages": 1})
    assert caught.value.type == "invalid_request_error"


async def test_latency_delays_answers() -> None:
    async with FakeOpenAI(latency=0.2) as server, aiohttp.ClientSession() as http:
        started = time.monotonic()
        async with http.get(f"{server.base_url}/models") as resp:
            assert resp.status == 200
        assert time.monotonic() - started >= 0.2


async def test_standalone_process_announces_and_stops_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.fakes.openai_server",
        "--port",
        "0",
        "--api-key",
        "k",
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode().split()
        assert line[0] == "ready"
        assert line[1].startswith("http://127.0.0.1:")
        assert line[1].endswith("/v1")
        async with openai.AsyncOpenAI(base_url=line[1], api_key="k", max_retries=0) as sdk:
            resp = await sdk.chat.completions.create(model="m", messages=HELLO)
        assert resp.choices[0].message.content == "echo: hello"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
