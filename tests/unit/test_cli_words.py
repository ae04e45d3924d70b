"""The CLI's own words: `--help` in the terminal's language without typer's noise, and its
lines in Chinese under a Chinese locale (issue 18, items 1 and 9)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import AI_BOT, cli_env

COMMANDS = [[], ["init"], ["deploy"], ["run"], ["backup"], ["admin", "create-user"], ["eval"]]


def help_text(args: list[str], lang: str) -> str:
    result = subprocess.run(
        [str(AI_BOT), *args, "--help"],
        capture_output=True,
        text=True,
        env={**cli_env(), "LANG": lang, "COLUMNS": "200"},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "ai-bot")
def test_help_has_no_stray_types_or_dots(args: list[str]) -> None:
    text = help_text(args, "en_US.UTF-8")
    assert "<bool>" not in text
    # rich markup used to swallow "[default: 20]" in a help text and leave " ." behind
    assert not re.search(r"\s\.(\s|$)", text, re.M), text


def test_help_speaks_chinese_under_a_chinese_locale() -> None:
    text = help_text(["init"], "zh_CN.UTF-8")
    for words in ("选项", "显示本帮助并退出", "生成 config.yaml 和 .env", "默认：18789"):
        assert words in text, text
    assert "Show this message and exit" not in text


def test_help_speaks_english_under_an_english_locale() -> None:
    text = help_text(["init"], "en_US.UTF-8")
    assert "Options" in text and "Show this message and exit." in text
    assert "(default: 18789)" in text


def approve_with(folder: Path, config: str) -> subprocess.CompletedProcess[str]:
    """`ai-bot pairing approve` (a command that reads the config) under an English terminal."""
    (folder / "config.yaml").write_text(config, encoding="utf-8")
    return subprocess.run(
        [str(AI_BOT), "pairing", "approve", "ABCD2345"],
        capture_output=True,
        text=True,
        cwd=folder,
        env=cli_env(),
        timeout=60,
    )


def test_ui_language_in_the_config_wins_over_the_terminal(tmp_path: Path) -> None:
    # a refused config still says which language it wants, when its ui: is right
    broken = approve_with(tmp_path, "ui: {language: zh-CN}\nsessoin: {}\n")
    assert broken.returncode == 2 and broken.stderr.startswith("错误： "), broken.stderr
    # ...and the terminal's language (English here) when its ui: is wrong too
    broken = approve_with(tmp_path, "ui: {language: zh}\nsessoin: {}\n")
    assert broken.returncode == 2 and broken.stderr.startswith("error: "), broken.stderr
    store = f"storage: {{url: 'sqlite:///{tmp_path}/a.db'}}"
    result = approve_with(tmp_path, f"ui: {{language: zh-CN}}\n{store}\n")
    assert result.returncode == 1 and "没有待批准的配对码" in result.stderr, result.stderr


def test_eval_without_its_extra_names_the_install(tmp_path: Path) -> None:
    """`ai-bot eval` needs sacrebleu and numpy (the `eval` extra); without them it says how to
    add them in one line instead of an ImportError."""
    program = (
        "import sys; sys.modules['sacrebleu'] = None; "
        "sys.argv = ['ai-bot', 'eval', 'cases.jsonl', '--models', 'a,b']; "
        "from aibot.cli.main import main; main()"
    )
    result = subprocess.run(
        [str(AI_BOT.parent / "python"), "-c", program],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=cli_env(),
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'ai-bot[eval]'" in result.stderr and "Traceback" not in result.stderr
