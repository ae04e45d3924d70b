"""The `ai-bot` command as a subprocess, with an environment cleaned of the developer's own keys
and settings, and the flags of a non-interactive `ai-bot init`."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

AI_BOT = Path(sys.executable).parent / "ai-bot"
# rich wraps CLI output at COLUMNS. What the tests read often holds temporary paths, which are
# long under pytest-xdist (…/popen-gw0/test_name0/…), so they ask for lines no path fills.
COLUMNS = "1000"
# Keys of the fake provider in the `ai-bot init` tests: the one it accepts, and one it refuses.
GOOD_KEY = "sk-good-0123456789abcdefghij"
WRONG_KEY = "sk-wrong-9876543210zyxwvutsrq"


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def cli_env() -> dict[str, str]:
    """The caller's environment minus any real keys, and a wide terminal so lines don't wrap."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AIBOT_") and not k.endswith("_API_KEY")
    }
    env.update(COLUMNS=COLUMNS, NO_COLOR="1", TERM="dumb")
    return english(env)


def english(env: dict[str, str]) -> dict[str, str]:
    """The CLI speaks the terminal's language (zh-CN when it names none we serve); the tests
    that read its English say so here, and the zh-CN ones set LANG=zh_CN.UTF-8 themselves."""
    env = {k: v for k, v in env.items() if k not in ("LC_ALL", "LC_MESSAGES", "LANGUAGE")}
    env["LANG"] = "en_US.UTF-8"
    return env


async def ai_bot(
    cwd: Path, *args: str, stdin: str = "", env: Mapping[str, str] | None = None
) -> Run:
    """`env` adds to (or overrides) the cleaned environment, e.g. LANG=zh_CN.UTF-8."""
    process = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        *args,
        cwd=cwd,
        env={**cli_env(), **(env or {})},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 30)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


def init_flags(base_url: str, key: str, *extra: str) -> list[str]:
    return [
        "init",
        "--non-interactive",
        "--preset",
        "deepseek",
        "--base-url",
        base_url,
        "--api-key",
        key,
        *extra,
    ]


PROVIDER_KEYS = (
    "OPENAI_API_KEY",
    "MINIMAX_API_KEY",
    "ZHIPUAI_API_KEY",
    "DEEPSEEK_API_KEY",
    "DASHSCOPE_API_KEY",
    "MOONSHOT_API_KEY",
    "SILICONFLOW_API_KEY",
)


def clean_env() -> dict[str, str]:
    """The caller's environment without provider keys and AIBOT_ settings."""
    return english(
        {
            k: v
            for k, v in os.environ.items()
            if k not in PROVIDER_KEYS and not k.startswith("AIBOT_")
        }
    )
