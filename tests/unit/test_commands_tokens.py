"""Command parsing and the token estimate."""

from __future__ import annotations

import pytest

from aibot.core.commands import parse_command
from aibot.core.tokens import estimate_tokens


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/reset", ("reset", "")),
        ("  /model  glm ", ("model", "glm")),
        ("/model@MyBot deepseek", ("model", "deepseek")),
        ("/HELP", ("help", "")),
        ("hello /reset", None),
        ("/", None),
        ("/123", None),
        ("//x", None),
    ],
)
def test_parse_command(text: str, parsed: tuple[str, str] | None) -> None:
    assert parse_command(text) == parsed


def test_cjk_counts_more_than_latin() -> None:
    assert estimate_tokens("你好世界你好世界") > estimate_tokens("hello w")
    assert estimate_tokens("a" * 400) >= 100
