"""The official `openai` SDK, unchanged, as the client of our `/v1` endpoint."""

from __future__ import annotations

import re
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_server import Fail, FakeOpenAI
from tests.support.gateway import GatewayFactory, RunningGateway


def client(gw: RunningGateway, key: str | None = None) -> AsyncOpenAI:
    return AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=key or gw.api_key, max_retries=0)


async def test_models_and_completion(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    api = client(gw)
    models = await api.models.list()
    assert [m.id for m in models.data] == ["fake"]
    completion = await api.chat.completions.create(
        model="fake", messages=[{"role": "user", "content": "hello 世界"}]
    )
    assert completion.choices[0].message.content == "echo: hello 世界"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens > 0
    await api.close()


async def test_streaming_with_usage(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    api = client(gw)
    stream = await api.chat.completions.create(
        model="fake",
        messages=[{"role": "user", "content": "stream me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: stream me please"
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens > 0
    await api.close()


async def test_text_part_without_text_is_a_400(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    api = client(gw)
    null_text: Any = {"role": "user", "content": [{"type": "text", "text": None}]}
    with pytest.raises(openai.BadRequestError) as caught:
        await api.chat.completions.create(model="fake", messages=[null_text])
    assert "must be a string" in str(caught.value)
    await api.close()


async def test_wrong_or_missing_key_is_openai_401(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    api = client(gw, key="nope")
    with pytest.raises(openai.AuthenticationError) as caught:
        await api.chat.completions.create(model="fake", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        await api.models.list()
    await api.close()


async def test_upstream_failure_is_an_openai_error(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory()
    fake_llm.script(Fail(500), Fail(500))
    api = client(gw)
    with pytest.raises(openai.APIStatusError) as caught:
        await api.chat.completions.create(model="fake", messages=[{"role": "user", "content": "x"}])
    assert caught.value.status_code == 502
    await api.close()


async def test_openapi_docs(gateway_factory: GatewayFactory) -> None:
    import aiohttp

    gw = await gateway_factory()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{gw.url}/openapi.json") as response:
            spec = await response.json()
        async with http.get(f"{gw.url}/docs") as response:
            assert response.status == 200
            page = await response.text()
            policy = response.headers["Content-Security-Policy"]
        # Swagger UI comes from the gateway itself (issue 16, item 12): no other origin is named,
        # no inline script, and every asset the page names is served here.
        assert "script-src 'self'" in policy and "http" not in policy
        assert "//" not in page.replace("<!doctype", "")
        assert "<script>" not in page
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert len(assets) == 3 and all(a.startswith("/docs/assets/") for a in assets)
        for asset in assets:
            async with http.get(gw.url + asset) as response:
                assert response.status == 200 and len(await response.read()) > 100
    assert {"/v1/chat/completions", "/v1/models", "/api/v1/chat"} <= set(spec["paths"])

    off = await gateway_factory({"server": {"docs": False}}, name="no-docs")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{off.url}/docs") as response:
            assert response.status == 404
        async with http.get(f"{off.url}/openapi.json") as response:
            assert response.status == 200
