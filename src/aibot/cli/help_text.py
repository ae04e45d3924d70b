"""`--help` in the CLI's language, without typer's noise, paid for only when help is shown.

Commands and options declare their help as English msgids (`help=N_("…")`): translating them
at import would read the catalog on every start of `ai-bot run`. They are translated when typer
renders a help page, together with what typer writes itself — the panel titles, `[default: …]`,
`[env var: …]`, `[required]`, the `--help` option's line — which live in `typer.rich_utils`, a
module typer (and we) import only then: it pulls in a Markdown parser `ai-bot run` never needs.
The usage line's `Usage:` is click's: help and usage errors both write it through `format_usage`,
which is hooked here too. Typer 0.29 also prints a flag's Python type (`<bool>`) beside it, which
a flag that takes no value does not need: flags show none.
"""

from __future__ import annotations

from typing import Any

from typer import core

from aibot.i18n import N_, template, terminal_language, tr

HELP_OPTION = N_("Show this message and exit.")
# typer fills these itself: their `{}` stay in (template, not translate).
DEFAULT = N_("[default: {}]")
ENVVAR = N_("[env var: {}]")
TRY_HELP = N_("Try [blue]'{command_path} {help_option}'[/] for help.")
USAGE = N_("Usage: ")
_DONE = "_aibot_translated"


def install() -> None:
    """Hooks typer's help rendering and the usage line it shows with help and with a usage
    error (cheap: typer.core is loaded with typer anyway)."""
    for cls in (core.TyperCommand, core.TyperGroup):
        original = cls.format_help
        if getattr(original, _DONE, False):
            continue

        def format_help(self: Any, ctx: Any, formatter: Any, _original: Any = original) -> None:
            localize_typer()
            _translate(ctx.command)
            _original(self, ctx, formatter)

        setattr(format_help, _DONE, True)
        cls.format_help = format_help  # type: ignore[method-assign]
        cls.format_usage = _format_usage  # type: ignore[method-assign]
    option = getattr(core, "TyperOption", None)
    typed = getattr(option, "display_type_rich", None)
    if option is not None and typed is not None and not getattr(typed, _DONE, False):

        def display_type_rich(self: Any, ctx: Any) -> str | None:
            return None if getattr(self, "is_flag", False) else typed(self, ctx)

        setattr(display_type_rich, _DONE, True)
        option.display_type_rich = display_type_rich


def _translate(command: Any) -> None:
    """The help of a command, its options and (for a group) its commands, once each."""
    subcommands = getattr(command, "commands", {})
    for item in (command, *getattr(command, "params", ()), *subcommands.values()):
        if getattr(item, _DONE, False):
            continue
        if getattr(item, "help", None):
            item.help = tr(item.help)
        setattr(item, _DONE, True)
    help_option = getattr(command, "_help_option", None)
    if help_option is not None:
        help_option.help = tr(HELP_OPTION)


def _format_usage(self: Any, ctx: Any, formatter: Any) -> None:
    """click's usage line (`Usage: ai-bot run [OPTIONS]`) with its first word translated."""
    pieces = self.collect_usage_pieces(ctx)
    formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=tr(USAGE))


def localize_typer() -> None:
    """typer's own words in the terminal's language: its help panels' titles and notes, and
    what it prints around a usage error (`aibot.cli.usage_errors`)."""
    from typer import rich_utils

    language = terminal_language()
    rich_utils.ARGUMENTS_PANEL_TITLE = tr("Arguments")
    rich_utils.OPTIONS_PANEL_TITLE = tr("Options")
    rich_utils.COMMANDS_PANEL_TITLE = tr("Commands")
    rich_utils.ERRORS_PANEL_TITLE = tr("Error")
    rich_utils.ABORTED_TEXT = tr("Aborted.")
    rich_utils.DEFAULT_STRING = template(language, DEFAULT)
    rich_utils.ENVVAR_STRING = template(language, ENVVAR)
    rich_utils.REQUIRED_LONG_STRING = tr("[required]")
    rich_utils.RICH_HELP = template(language, TRY_HELP)
