"""`ai-bot admin create-user` states the password rule before the first entry."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from aibot.cli.commands import app


def test_the_password_minimum_is_in_the_prompt(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"storage": {"url": f"sqlite:///{tmp_path / 'a.db'}"}}))
    result = CliRunner().invoke(
        app,
        ["admin", "create-user", "ann", "--role", "admin", "-c", str(config)],
        input="long-enough-pw\nlong-enough-pw\n",
        env={"LANG": "en_US.UTF-8", "LC_ALL": "", "LC_MESSAGES": ""},
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Password (at least 10 characters): ")
