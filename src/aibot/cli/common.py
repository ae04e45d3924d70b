"""Helpers shared by the CLI commands: the config option, one-line errors, the console."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from aibot.config import ConfigError, LoadedConfig, load_config

console = Console()
err_console = Console(stderr=True)

ConfigOption = Annotated[
    str | None,
    typer.Option("--config", "-c", envvar="AIBOT_CONFIG",
                 help="Path to config.yaml (default: ./config.yaml, else built-in defaults)."),
]


def fail(message: str, code: int = 2) -> NoReturn:
    """One red line and the exit code; the message is plain text, never rich markup."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def load_or_exit(path: str | None) -> LoadedConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        lines = str(exc).splitlines()
        for line in lines[:-1]:
            err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False,
                              soft_wrap=True)
        fail(lines[-1] if lines else "invalid configuration")
