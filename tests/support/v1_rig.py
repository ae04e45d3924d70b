"""What the /v1 contract tests share: one real gateway in front of the OpenAI fake, and the
rule every contract test follows — run the same client code against the fake directly (proving
the fake behaves like OpenAI for that client) and through the gateway, and compare.

The gateway's providers all point at the one fake: `fake-model` (no preset: every field is
forwarded), `ds` (the `deepseek` preset's quirks: no `n`, `max_tokens`, JSON mode only) and `oa`
(the `openai` preset: fields OpenAI does not define are dropped). The fake knows exactly the
model names the gateway sends it, so a wrong one would be a 404, as OpenAI answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import openai

from tests.fakes.openai_server import FakeOpenAI
from tests.support.gateway import API_KEY, PROVIDER_KEY, RunningGateway, deep_merge, gateway_env
from tests.support.net import free_port

T = TypeVar("T")
TEAM_KEY = "team-key-only-ds"
UPSTREAM_MODELS = ["fake-model", "deepseek-chat", "gpt-x"]


@dataclass
class V1Rig:
    gw: RunningGateway
    fake: FakeOpenAI

    def direct(self) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=self.fake.base_url, api_key=PROVIDER_KEY, max_retries=0)

    def gateway(self, key: str = API_KEY) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(base_url=f"{self.gw.url}/v1", api_key=key, max_retries=0)

    def sync_clients(self) -> tuple[openai.OpenAI, openai.OpenAI]:
        return (
            openai.OpenAI(base_url=self.fake.base_url, api_key=PROVIDER_KEY, max_retries=0),
            openai.OpenAI(base_url=f"{self.gw.url}/v1", api_key=API_KEY, max_retries=0),
        )

    def upstream(self) -> dict[str, Any]:
        """The last chat body the fake received."""
        return self.fake.chat_requests()[-1]

    async def both(
        self, scenario: Callable[[openai.AsyncOpenAI], Awaitable[T]]
    ) -> tuple[T, T, dict[str, Any], dict[str, Any]]:
        """`scenario` against the fake, then through the gateway: both outcomes, and the last
        body the fake received each time."""
        async with self.direct() as direct:
            alone = await scenario(direct)
        sent_alone = self.upstream()
        async with self.gateway() as gateway:
            through = await scenario(gateway)
        return alone, through, sent_alone, self.upstream()


def gateway_config(workdir: Path, fake: FakeOpenAI, extra: dict[str, Any]) -> dict[str, Any]:
    provider = {"base_url": fake.base_url, "api_key": PROVIDER_KEY, "timeout": 10, "max_retries": 1}
    base = {
        "server": {"host": "127.0.0.1", "port": free_port()},
        "storage": {"url": f"sqlite:///{workdir / 'ai-bot.db'}"},
        "api": {
            "keys": [API_KEY, TEAM_KEY],
            "key_models": {"key-2": ["ds"]},
            "cors_origins": ["https://chat.example"],
        },
        "models": {
            "default": "fake-model",
            "aliases": {"gpt-4o-mini": "fake-model"},
            "providers": {
                "fake-model": {**provider, "model": "fake-model", "embedding_model": "emb-1"},
                "ds": {**provider, "preset": "deepseek", "model": "deepseek-chat"},
                "oa": {**provider, "preset": "openai", "model": "gpt-x"},
            },
        },
        "logging": {"level": "info", "format": "json"},
    }
    return deep_merge(base, extra)


@asynccontextmanager
async def v1_rig(workdir: Path, extra: dict[str, Any] | None = None) -> AsyncIterator[V1Rig]:
    async with AsyncExitStack() as stack:
        fake = await stack.enter_async_context(
            FakeOpenAI(api_key=PROVIDER_KEY, models=UPSTREAM_MODELS, strict_models=True)
        )
        workdir.mkdir(parents=True, exist_ok=True)
        gw = RunningGateway(workdir, gateway_config(workdir, fake, extra or {}), gateway_env())
        stack.push_async_callback(gw.stop)
        await gw.start()
        yield V1Rig(gw, fake)
