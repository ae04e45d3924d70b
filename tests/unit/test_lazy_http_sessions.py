"""The provider's connection pool is made at its first call (its HTTP client is imported then,
not at start: issue 20): concurrent first calls share one pool — the lean pool for a plain
base URL, an aiohttp session behind a proxy — and a provider that never called closes without
making one."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from aibot.config import ProviderConfig
from aibot.core.messages import ChatRequest, Message
from aibot.providers import lean_http
from aibot.providers.openai_compat import OpenAICompatibleProvider
from tests.fakes.openai_server import FakeOpenAI

ASK = ChatRequest([Message("user", "你好")])


def provider(base_url: str) -> OpenAICompatibleProvider:
    config = ProviderConfig.model_validate({"base_url": base_url, "api_key": "sk-k", "model": "m"})
    return OpenAICompatibleProvider("p", config)


def made_by(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[Any]:
    """Every object the class `owner.name` makes from now on, in order."""
    made: list[Any] = []
    make = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(make(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(owner, name, counted)
    return made


@pytest.fixture
def sessions_made(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientSession]:
    return made_by(monkeypatch, aiohttp, "ClientSession")


@pytest.fixture
def pools_made(monkeypatch: pytest.MonkeyPatch) -> list[lean_http.LeanPool]:
    return made_by(monkeypatch, lean_http, "LeanPool")


async def test_concurrent_first_calls_share_one_lean_pool(
    pools_made: list[lean_http.LeanPool], sessions_made: list[aiohttp.ClientSession]
) -> None:
    async with FakeOpenAI(api_key="sk-k") as fake:
        p = provider(fake.base_url)
        results = await asyncio.gather(*(p.chat(ASK) for _ in range(5)))
        assert [r.text for r in results] == ["echo: 你好"] * 5
        await p.close()
    assert len(pools_made) == 1 and pools_made[0].closed
    assert sessions_made == []


async def test_behind_a_proxy_concurrent_first_calls_share_one_aiohttp_session(
    sessions_made: list[aiohttp.ClientSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with FakeOpenAI(api_key="sk-k") as proxy:
        monkeypatch.setenv("http_proxy", proxy.base_url.removesuffix("/v1"))
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        p = provider("http://model.invalid/v1")
        results = await asyncio.gather(*(p.chat(ASK) for _ in range(5)))
        assert [r.text for r in results] == ["echo: 你好"] * 5
        await p.close()
    assert len(sessions_made) == 1 and sessions_made[0].closed


async def test_a_provider_that_never_called_closes_without_a_pool(
    sessions_made: list[aiohttp.ClientSession], pools_made: list[lean_http.LeanPool]
) -> None:
    p = provider("http://127.0.0.1:9/v1")
    await p.close()
    await p.close()
    assert sessions_made == [] and pools_made == []
