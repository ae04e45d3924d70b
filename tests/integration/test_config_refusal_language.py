"""A config.yaml with mistakes is refused by `ai-bot run` with one line per mistake, exit 2, each
line in the reader's language: the terminal's, or the refused file's own `ui.language` when
that part of it is right. Nothing of pydantic's English is left in a Chinese refusal."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from tests.support.cli import AI_BOT, cli_env

MISTAKES = {
    "server": {"port": "abc", "docs": "maybe", "allowed_hosts": "example.com"},
    "logging": {"level": "loud"},
    "session": {"idle_reset": "soon"},
    "models": {"default": "nope"},
    "tools": {"max_rounds": 0},
    "sessoin": {},
}
CHINESE = [
    "错误： config.yaml：server.port：应为整数，所填的文字无法识别为整数（当前值：'abc'）",
    "错误： config.yaml：server.docs：应为布尔值（true 或 false），"
    "无法识别所填的值（当前值：'maybe'）",
    "错误： config.yaml：server.allowed_hosts：应为列表（当前值：'example.com'）",
    "错误： config.yaml：models：models.default：'nope' "
    "不是 models.providers 中的服务商（已配置：无）",
    "错误： config.yaml：session.idle_reset：不是有效的时长：'soon'（示例：30s、10m、1h）",
    "错误： config.yaml：logging.level：应为 'debug', 'info', 'warning' 或 'error'"
    "（当前值：'loud'）",
    "错误： config.yaml：tools.max_rounds：应大于或等于 1（当前值：0）",
    "错误： config.yaml：sessoin："
    "未知的配置项（请检查拼写；`ai-bot config --schema` 列出了所有配置项）",
]
ENGLISH = [
    "error: config.yaml: server.port: Input should be a valid integer, unable to parse string as "
    "an integer (got 'abc')",
    "error: config.yaml: server.docs: Input should be a valid boolean, unable to interpret input "
    "(got 'maybe')",
    "error: config.yaml: server.allowed_hosts: Input should be a valid list (got 'example.com')",
    "error: config.yaml: models: models.default: 'nope' is not a provider under models.providers "
    "(configured: none)",
    "error: config.yaml: session.idle_reset: not a duration: 'soon' (use e.g. 30s, 10m, 1h)",
    "error: config.yaml: logging.level: Input should be 'debug', 'info', 'warning' or 'error' "
    "(got 'loud')",
    "error: config.yaml: tools.max_rounds: Input should be greater than or equal to 1 (got 0)",
    "error: config.yaml: sessoin: unknown key (check spelling; `ai-bot config --schema` lists "
    "every key)",
]


async def refused(tmp_path: Path, config: dict[str, object], lang: str) -> list[str]:
    """The lines `ai-bot run` printed before it exited 2 (given minutes: the box is loaded)."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    process = await asyncio.create_subprocess_exec(
        str(AI_BOT),
        *("run", "-c", "config.yaml"),
        cwd=tmp_path,
        env={**cli_env(), "LANG": lang},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await asyncio.wait_for(process.communicate(), 180))[0].decode()
    assert process.returncode == 2 and "Traceback" not in output, output
    return [line for line in output.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("lang", "expected"), [("zh_CN.UTF-8", CHINESE), ("en_US.UTF-8", ENGLISH), ("C", CHINESE)]
)
async def test_every_mistake_is_one_line_in_the_terminals_language(
    tmp_path: Path, lang: str, expected: list[str]
) -> None:
    """C names no language we serve: the CLI speaks ui.default_language's default, zh-CN."""
    assert await refused(tmp_path, MISTAKES, lang) == expected


async def test_the_refused_files_own_language_wins_when_it_is_valid(tmp_path: Path) -> None:
    lines = await refused(tmp_path, {**MISTAKES, "ui": {"language": "en"}}, "zh_CN.UTF-8")
    assert lines == ENGLISH


async def test_a_wrong_ui_language_leaves_the_terminals(tmp_path: Path) -> None:
    lines = await refused(tmp_path, {"ui": {"language": "klingon"}}, "zh_CN.UTF-8")
    assert lines == [
        "错误： config.yaml：ui.language：应为 'auto', 'zh-CN' 或 'en'（当前值：'klingon'）"
    ]


async def test_a_word_file_that_cannot_be_read(tmp_path: Path) -> None:
    """Found when the gateway is built, not by the schema: still the reader's language."""
    words = {"policy": {"sensitive_words": {"files": [str(tmp_path / "missing.txt")]}}}
    storage = {"storage": {"url": f"sqlite:///{tmp_path}/s.db"}}
    line = (await refused(tmp_path, {**words, **storage}, "zh_CN.UTF-8"))[-1]  # after logs
    assert line.startswith("错误： policy.sensitive_words.files：无法读取："), line
