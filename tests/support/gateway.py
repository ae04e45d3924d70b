"""The real gateway as a subprocess (`ai-bot run`) with its own config, data and log, and the
config every test gateway starts from: loopback, SQLite in its directory, the fake model."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from tests.fakes.openai_server import FakeOpenAI
from tests.support.cli import AI_BOT
from tests.support.log_leaks import GatewayRun, configured_secrets, record_gateway_run
from tests.support.net import free_port

API_KEY = "test-key"
PROVIDER_KEY = "sk-fake-provider-key-123456"


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

    async def start(self, timeout: float = 60.0) -> None:
        """Start `ai-bot run` and wait for /healthz.

        The bound is generous on purpose: with every xdist worker starting gateways on a loaded
        2-core box a cold start took over 20 s, and a start that is merely slow is not what any
        test here checks (cold start is measured in bench/).
        """
        self.config_path.write_text(yaml.safe_dump(self.config), encoding="utf-8")
        record_gateway_run(
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
    """This environment without AIBOT_ variables (a developer's own must not leak in), with an
    English terminal: the CLI commands tests run beside a gateway speak the terminal's language
    (the gateway's own replies follow ui.language, not the locale)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIBOT_") and k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")
    }
    env["LANG"] = "en_US.UTF-8"
    env.update(extra or {})
    return env


class GatewayStarter:
    """Starts gateways for one test, each in its own directory under `root` with the base config
    deep-merged with the test's overrides; `stop_all` ends every one it started."""

    def __init__(self, root: Path, fake_llm: FakeOpenAI) -> None:
        self.root = root
        self.fake_llm = fake_llm
        self.started: list[RunningGateway] = []

    async def __call__(
        self,
        config_overrides: dict[str, Any] | None = None,
        *,
        name: str = "gw",
        env: dict[str, str] | None = None,
    ) -> RunningGateway:
        workdir = self.root / name
        workdir.mkdir(exist_ok=True)
        gateway = RunningGateway(
            workdir,
            deep_merge(base_config(workdir, self.fake_llm), config_overrides or {}),
            gateway_env(env),
        )
        self.started.append(gateway)
        await gateway.start()
        return gateway

    async def stop_all(self) -> None:
        await asyncio.gather(*(gateway.stop() for gateway in self.started))


def rows(gw: RunningGateway, query: str) -> list[tuple[Any, ...]]:
    """The result of `query` on the SQLite store of a gateway started from `base_config`."""
    with sqlite3.connect(gw.workdir / "ai-bot.db") as db:
        return db.execute(query).fetchall()
