"""`ai-bot run` with no config at all, and `ai-bot chat` through the real pipeline."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import yaml

from tests.fakes.openai_server import Fail, FakeOpenAI
from tests.support.cli import AI_BOT, clean_env
from tests.support.net import free_port


async def test_run_without_config_starts_and_says_what_is_missing(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        "run",
        "--port",
        str(port),
        cwd=tmp_path,
        env=clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        report = None
        async with aiohttp.ClientSession() as http:
            for _ in range(1200):  # 60 s: a cold start on a loaded box is slow
                try:
                    async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                        assert response.status == 503
                        report = await response.json()
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
        assert report is not None, "the gateway never answered"
        # in the reader's language: zh-CN when the request names none
        assert "请运行 `ai-bot init`" in report["provider"]["problems"][0]
        assert report["store"]["ok"] is True
        assert (tmp_path / "data" / "ai-bot.db").is_file()  # embedded default under ./data
    finally:
        process.terminate()
        output = (await process.communicate())[0].decode()
    assert "no model provider is configured" in output


async def test_terminal_chat_uses_pipeline_and_memory(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        (tmp_path / "config.yaml").write_text(
            yaml.safe_dump(
                {
                    "storage": {"url": f"sqlite:///{tmp_path / 'chat.db'}"},
                    "models": {
                        "default": "fake",
                        "providers": {
                            "fake": {
                                "base_url": fake.base_url,
                                "api_key": "sk-chat-test",
                                "model": "m",
                            }
                        },
                    },
                }
            )
        )

        async def chat(lines: str) -> str:
            process = await asyncio.create_subprocess_exec(
                str(AI_BOT),
                "chat",
                "-c",
                "config.yaml",
                cwd=tmp_path,
                env=clean_env(),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(lines.encode()), 30)
            assert process.returncode == 0, output.decode()
            return output.decode()

        first = await chat("hello there\n/help\n")
        assert "echo: hello there" in first and "/model [name]" in first
        second = await chat("and again\n")  # a new process: memory comes from the store
        assert "echo: and again" in second
        fake.fault = Fail(500)  # retries log warnings: into the log file, not the conversation
        third = await chat("fail please\n")
        assert '"level"' not in third and "retrying model call" not in third, third
        assert "模型暂时不可用" in third or "The model is unavailable" in third
        assert "retrying model call" in (tmp_path / "data" / "chat.log").read_text("utf-8")
        fake.fault = None
    contents = [m["content"] for m in fake.requests[1].json["messages"]]  # "and again"
    assert contents == ["hello there", "echo: hello there", "and again"]


async def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            str(AI_BOT),
            "run",
            "--port",
            str(port),
            cwd=tmp_path,
            env=clean_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output = (await asyncio.wait_for(process.communicate(), 30))[0].decode()
    assert process.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in output and "Traceback" not in output
