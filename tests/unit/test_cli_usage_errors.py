"""click's and typer's own words — a mistyped option, a missing argument, a value that does not
parse, `Usage:`, `Error`, `Try … for help.` — in the terminal's language, through the real
`ai-bot` command. `LANG=C` names no language we serve, so the CLI speaks ui.default_language's
default, zh-CN, as it does for everything else it says."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.cli import AI_BOT, cli_env


def said(lang: str, *args: str) -> tuple[int, str]:
    result = subprocess.run(
        [str(AI_BOT), *args],
        capture_output=True,
        text=True,
        env={**cli_env(), "LANG": lang, "COLUMNS": "200"},
        timeout=120,
    )
    return result.returncode, result.stdout + result.stderr


def panel(text: str) -> list[str]:
    """The lines of the output without the panel's frame."""
    return [line.strip("│╭╮╰╯─ ") for line in text.splitlines() if line.strip("│╭╮╰╯─ ")]


def test_a_value_outside_a_choice_in_chinese() -> None:
    code, text = said("zh_CN.UTF-8", "deploy", "bogus")
    assert code == 2, text
    assert panel(text)[-1] == (
        "'kind'的值无效：'bogus' 不在可选值中："
        "'systemd', 'nginx', 'docker', 'compose', 'k8s', 'filebeat'。"
    ), text


@pytest.mark.parametrize("lang", ["zh_CN.UTF-8", "C"])
@pytest.mark.parametrize(
    ("args", "lines"),
    [
        (
            ["--bogus"],
            [
                "用法：ai-bot [OPTIONS] COMMAND [ARGS]...",
                "运行 'ai-bot --help' 查看帮助。",
                "错误",
                "没有这个选项：--bogus",
            ],
        ),
        (
            ["run", "--nope"],
            [
                "用法：ai-bot run [OPTIONS]",
                "运行 'ai-bot run --help' 查看帮助。",
                "错误",
                "没有这个选项：--nope",
            ],
        ),
        (
            ["run", "--port", "abc"],
            [
                "用法：ai-bot run [OPTIONS]",
                "运行 'ai-bot run --help' 查看帮助。",
                "错误",
                "'--port'（环境变量 'AIBOT_PORT'）的值无效：应为整数，所填的文字无法识别为整数",
            ],
        ),
        (
            ["pairing", "approve"],
            [
                "用法：ai-bot pairing approve [OPTIONS] {code}",
                "运行 'ai-bot pairing approve --help' 查看帮助。",
                "错误",
                "缺少参数 'code'。",
            ],
        ),
        (
            ["bogus"],
            [
                "用法：ai-bot [OPTIONS] COMMAND [ARGS]...",
                "运行 'ai-bot --help' 查看帮助。",
                "错误",
                "没有 'bogus' 这个命令。",
            ],
        ),
    ],
)
def test_usage_errors_in_chinese(lang: str, args: list[str], lines: list[str]) -> None:
    code, text = said(lang, *args)
    assert code == 2 and panel(text) == lines, text


@pytest.mark.parametrize(
    ("args", "lines"),
    [
        (
            ["--bogus"],
            [
                "Usage: ai-bot [OPTIONS] COMMAND [ARGS]...",
                "Try 'ai-bot --help' for help.",
                "Error",
                "No such option: --bogus",
            ],
        ),
        (
            ["run", "--nope"],
            [
                "Usage: ai-bot run [OPTIONS]",
                "Try 'ai-bot run --help' for help.",
                "Error",
                "No such option: --nope",
            ],
        ),
        (
            ["run", "--port", "abc"],
            [
                "Usage: ai-bot run [OPTIONS]",
                "Try 'ai-bot run --help' for help.",
                "Error",
                "Invalid value for '--port' (env var: 'AIBOT_PORT'): Input "
                "should be a valid integer, unable to parse string as an "
                "integer",
            ],
        ),
        (
            ["pairing", "approve"],
            [
                "Usage: ai-bot pairing approve [OPTIONS] {code}",
                "Try 'ai-bot pairing approve --help' for help.",
                "Error",
                "Missing argument 'code'.",
            ],
        ),
    ],
)
def test_usage_errors_in_english(args: list[str], lines: list[str]) -> None:
    code, text = said("en_US.UTF-8", *args)
    assert code == 2 and panel(text) == lines, text


@pytest.mark.parametrize(
    ("lang", "usage"),
    [
        ("zh_CN.UTF-8", "用法：ai-bot [OPTIONS] COMMAND [ARGS]..."),
        ("C", "用法：ai-bot [OPTIONS] COMMAND [ARGS]..."),
        ("en_US.UTF-8", "Usage: ai-bot [OPTIONS] COMMAND [ARGS]..."),
    ],
)
def test_help_says_its_usage_line_in_the_terminals_language(lang: str, usage: str) -> None:
    code, text = said(lang, "--help")
    assert code == 0 and panel(text)[0] == usage, text
