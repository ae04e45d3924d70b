"""Shared fixtures: a fake model on loopback and the real gateway as a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import aiohttp
import pytest
import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.channels.base import ChannelContext, Clock
from aibot.core.events import PlatformEvents
from aibot.core.feedback import Feedback
from aibot.core.inbox import Inbox
from aibot.ops.metrics import Metrics
from aibot.store.engine import create_engine, migrate
from tests.fakes.openai_server import FakeOpenAI
from tests.support.log_leaks import GatewayRun, configured_secrets, find_leaks

AI_BOT = Path(sys.executable).parent / "ai-bot"
API_KEY = "test-key"
PROVIDER_KEY = "sk-fake-provider-key-123456"
# Every gateway started in this session with its config's secrets, for the final log check.
GATEWAY_RUNS: list[GatewayRun] = []


PG_ADMIN_DSN = "postgres://postgres@127.0.0.1:5432/postgres"


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database on the local PostgreSQL, dropped afterwards; skips if there is none.

    CI sets AIBOT_REQUIRE_POSTGRES=1 so a missing server fails instead of skipping.
    """
    import asyncpg

    try:
        admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("AIBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but unavailable: {exc}")
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}")
    name = f"aibot_test_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def redis_database() -> AsyncIterator[str]:
    """A database of the local Redis (15, or `AIBOT_TEST_REDIS_DB` so that test runs side by
    side do not flush each other's keys), flushed before and after; skips if there is none.

    CI sets AIBOT_REQUIRE_REDIS=1 so a missing server fails instead of skipping.
    """
    import redis.asyncio as redis

    url = f"redis://127.0.0.1:6379/{int(os.environ.get('AIBOT_TEST_REDIS_DB', '15'))}"
    client = redis.from_url(url)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        await client.aclose()
        if os.environ.get("AIBOT_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis is required but unavailable: {exc}")
        pytest.skip(f"Redis not reachable on 127.0.0.1:6379: {exc}")
    await client.flushdb()
    try:
        yield url
    finally:
        await client.flushdb()
        await client.aclose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def sql_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated store on SQLite, then on the local PostgreSQL: code that writes SQL directly
    is tested on both back ends."""
    async with contextlib.AsyncExitStack() as stack:
        url = (
            f"sqlite:///{tmp_path / 'store.db'}"
            if request.param == "sqlite"
            else await stack.enter_async_context(postgres_database())
        )
        engine = create_engine(url)
        await migrate(engine)
        yield engine
        await engine.dispose()


def bare_context(inbox: object = None, *, clock: Clock | None = None) -> ChannelContext:
    """A channel's context for unit tests that drive the channel without a gateway: only the
    inbox (often a stub) is real; ratings and platform events are not used. `clock` drives
    the channel's time (the system clock by default)."""
    return ChannelContext(
        inbox=cast(Inbox, inbox),
        metrics=Metrics(),
        public_url=None,
        feedback=cast(Feedback, None),
        events=cast(PlatformEvents, None),
        clock=clock or Clock(),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


class RunningGateway:
    """`ai-bot run` in a subprocess, with its own config, data directory and log file."""

    def __init__(self, workdir: Path, config: dict[str, Any], env: dict[str, str]) -> None:
        self.workdir = workdir
        self.config = config
        self.env = env
        self.port = int(config["server"]["port"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = API_KEY
        self.config_path = workdir / "config.yaml"
        self.log_path = workdir / "gateway.log"
        self.process: asyncio.subprocess.Process | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    async def start(self, timeout: float = 20.0) -> None:
        self.config_path.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        GATEWAY_RUNS.append(
            GatewayRun(
                self.workdir, configured_secrets(self.config, self.env, (API_KEY, PROVIDER_KEY))
            )
        )
        log = self.log_path.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            str(AI_BOT),
            "run",
            "-c",
            str(self.config_path),
            cwd=self.workdir,
            stdout=log,
            stderr=log,
            env=self.env,
        )
        log.close()
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as http:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(
                        f"gateway exited with {self.process.returncode}:\n{self.log()[-3000:]}"
                    )
                try:
                    async with http.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise RuntimeError(f"gateway not healthy in {timeout}s:\n{self.log()[-3000:]}")
                await asyncio.sleep(0.05)

    async def chat(
        self, message: str, session: str = "s1", **extra: Any
    ) -> tuple[int, dict[str, Any]]:
        """One `POST /api/v1/chat`; returns the status and the decoded body."""
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{self.url}/api/v1/chat",
                headers=self.headers,
                json={"session_id": session, "message": message, **extra},
            ) as response,
        ):
            return response.status, await response.json()

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        process = self.process
        if process is None or process.returncode is not None:
            return process.returncode if process else None
        process.send_signal(sig)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
        return process.returncode

    async def kill(self) -> None:
        await self.stop(signal.SIGKILL)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def log(self) -> str:
        return (
            self.log_path.read_text(encoding="utf-8", errors="replace")
            if self.log_path.exists()
            else ""
        )


GatewayFactory = Callable[..., Awaitable[RunningGateway]]


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_gateway_logs() -> Iterator[None]:
    """After the whole run, no gateway's logs hold a secret from its config (issue 7)."""
    yield
    leaks = find_leaks(GATEWAY_RUNS)
    if leaks:
        pytest.fail("configured secrets found in gateway logs:\n" + "\n".join(leaks), pytrace=False)


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Polls `condition` until it holds or `timeout` passes; returns its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@pytest.fixture
async def fake_llm() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


def base_config(workdir: Path, fake_llm: FakeOpenAI) -> dict[str, Any]:
    """What every test gateway starts from: loopback on a free port, SQLite in `workdir`, the
    fake model, JSON logs. Tests deep-merge their own sections over it."""
    return {
        "server": {"host": "127.0.0.1", "port": free_port()},
        "storage": {"url": f"sqlite:///{workdir / 'ai-bot.db'}"},
        "channels": {"api": {"keys": [API_KEY]}},
        "models": {
            "default": "fake",
            "providers": {
                "fake": {
                    "base_url": fake_llm.base_url,
                    "api_key": PROVIDER_KEY,
                    "model": "fake-model",
                    "timeout": 10,
                    "max_retries": 1,
                }
            },
        },
        "logging": {"level": "info", "format": "json"},
    }


def gateway_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without AIBOT_ variables (a developer's own must not leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIBOT_")}
    env.update(extra or {})
    return env


@pytest.fixture
async def gateway_factory(fake_llm: FakeOpenAI, tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    started: list[RunningGateway] = []

    async def start(
        config_overrides: dict[str, Any] | None = None,
        *,
        name: str = "gw",
        env: dict[str, str] | None = None,
    ) -> RunningGateway:
        workdir = tmp_path / name
        workdir.mkdir(exist_ok=True)
        gateway = RunningGateway(
            workdir,
            deep_merge(base_config(workdir, fake_llm), config_overrides or {}),
            gateway_env(env),
        )
        started.append(gateway)
        await gateway.start()
        return gateway

    yield start
    await asyncio.gather(*(g.stop() for g in started))
