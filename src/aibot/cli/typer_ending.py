"""How a start whose command line was parsed without typer (aibot.cli.run_plain) ends: as typer
ends a command, so both paths end alike."""

from __future__ import annotations

from typing import NoReturn

import typer


def end_as_typer(error: BaseException, *, help: str) -> NoReturn:
    """Ends `ai-bot run` as typer ends a command that raised `error` — a refusal's exit code,
    Ctrl-C's "Aborted." and exit 1, a crash's traceback. `help` is the command's (never shown:
    nothing is parsed)."""

    def ended() -> None:
        raise error

    ending = typer.Typer(add_completion=False, rich_markup_mode="rich", help=help)
    ending.command(help=help)(ended)
    ending([], prog_name="ai-bot")
    raise error  # typer has exited or raised it already
