"""`ai-bot` with only its `run` command, in typer: what a `ai-bot run …` that is not plain options
builds (aibot.cli.main, aibot.cli.run_plain), and what `aibot.cli.commands` adds every other
command to."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from aibot import __version__
from aibot.cli.common import console
from aibot.cli.help_text import install as install_help
from aibot.cli.run_plain import RUN_HELP, RUN_OPTIONS, RunOption, start
from aibot.cli.usage_errors import LocalizedGroup
from aibot.i18n import N_

APP_HELP = N_(
    "Self-hosted AI assistant gateway: web chat, REST and OpenAI-compatible API, chat "
    "platforms, any OpenAI-compatible model. Start with `ai-bot init`, then `ai-bot run`."
)


def _version(value: bool) -> None:
    if value:
        console.print(f"ai-bot {__version__}")
        raise typer.Exit


def root(
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help=N_("Print the version and exit.")
        ),
    ] = False,
) -> None:
    """The options of `ai-bot` itself."""


def typer_option(option: RunOption) -> Any:
    """`option` as typer reads it from a parameter's annotation."""
    kind: Any = int if option.integer else str
    if option.repeated:
        kind = list[kind]
    return Annotated[
        kind | None, typer.Option(*option.flags, envvar=option.envvar, help=option.help)
    ]


def run(**options: Any) -> None:
    start(**options)


# typer reads run's options from its signature, made from the list the plain path parses with.
run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter(
            o.name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=typer_option(o)
        )
        for o in RUN_OPTIONS
    ]
)


def command_line() -> typer.Typer:
    """`ai-bot` with `run` as its only command: all `ai-bot run …` needs, and what
    `aibot.cli.commands` adds the others to."""
    install_help()
    app = typer.Typer(
        name="ai-bot",
        cls=LocalizedGroup,
        help=APP_HELP,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode="rich",
    )
    app.callback(help=APP_HELP)(root)
    app.command(help=RUN_HELP)(run)
    return app
