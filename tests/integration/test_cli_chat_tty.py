"""`ai-bot chat` at a real terminal (a pseudo-terminal): arrow keys edit the line and recall the
last one instead of sending escape codes to the model (issue 18, item 9)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.fakes.openai_server import FakeOpenAI
from tests.support.cli import AI_BOT, clean_env

LEFT, UP = "\x1b[D", "\x1b[A"


async def test_arrow_keys_edit_and_recall_lines(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake:
        provider = {"base_url": fake.base_url, "api_key": "sk-tty", "model": "m"}
        config = {
            "storage": {"url": f"sqlite:///{tmp_path / 'chat.db'}"},
            "models": {"default": "fake", "providers": {"fake": provider}},
        }
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [str(AI_BOT), "chat", "-c", "config.yaml"],
            cwd=tmp_path,
            env={**clean_env(), "TERM": "xterm"},
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            start_new_session=True,
        )
        os.close(terminal)
        os.set_blocking(controller, False)
        seen = bytearray()

        async def until(condition: Callable[[], bool], what: str) -> None:
            for _ in range(600):  # 60 s
                with contextlib.suppress(BlockingIOError, OSError):
                    seen.extend(os.read(controller, 65536))
                if condition():
                    return
                await asyncio.sleep(0.1)
            raise AssertionError(f"no {what}; the terminal shows: {seen.decode(errors='replace')}")

        try:
            await until(lambda: b"you> " in seen, "prompt")
            os.write(controller, f"helo{LEFT}l\r".encode())  # "hel|o" + "l" -> "hello"
            await until(lambda: len(fake.requests) == 1, "first question")
            await until(lambda: seen.count(b"you> ") >= 2, "second prompt")
            os.write(controller, f"{UP}\r".encode())  # the same line again, from history
            await until(lambda: len(fake.requests) == 2, "recalled question")
            os.write(controller, b"\x04")  # Ctrl-D leaves
            await asyncio.to_thread(process.wait, 60)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(60)
            os.close(controller)
        asked = [r.json["messages"][-1]["content"] for r in fake.requests]
        assert asked == ["hello", "hello"], asked
        assert process.returncode == 0
