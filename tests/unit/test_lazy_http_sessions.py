"""The provider's pooled aiohttp session is made at its first call (aiohttp is imported then,
not at start: issue 20): concurrent first calls share one session, and a provider that never
called closes without making one."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from aibot.config import ProviderConfig
from aibot.core.messages import ChatRequest, Message
from aibot.providers.openai_compat import OpenAICompatibleProvider
from tests.fakes.openai_server import FakeOpenAI


def provider(base_url: str) -> OpenAICompatibleProvider:
    config = ProviderConfig.model_validate({"base_url": base_url, "api_key": "sk-k", "model": "m"})
    return OpenAICompatibleProvider("p", config)


@pytest.fixture
def sessions_made(monkeypatch: pytest.MonkeyPatch) -> list[aiohttp.ClientSession]:
    made: list[aiohttp.ClientSession] = []
    make = aiohttp.ClientSession

    def counted(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
        made.append(make(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(aiohttp, "ClientSession", counted)
    return made


async def test_concurrent_first_calls_share_one_session(
    sessions_made: list[aiohttp.ClientSession],
) -> None:
    async with FakeOpenAI(api_key="sk-k") as fake:
        p = provider(fake.base_url)
        ask = ChatRequest([Message("user", "你好")])
        results = await asyncio.gather(*(p.chat(ask) for _ in range(5)))
        assert [r.text for r in results] == ["echo: 你好"] * 5
        await p.close()
    assert len(sessions_made) == 1 and sessions_made[0].closed


async def test_a_provider_that_never_called_closes_without_a_session(
    sessions_made: list[aiohttp.ClientSession],
) -> None:
    p = provider("http://127.0.0.1:9/v1")
    await p.close()
    await p.close()
    assert sessions_made == []
