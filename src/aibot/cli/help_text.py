"""`--help` in the CLI's language, without typer's noise.

Our own help texts are `tr(...)` where each option is declared. What typer writes itself —
the panel titles, `[default: …]`, `[env var: …]`, `[required]`, the `--help` option's line —
comes from its `rich_utils` constants and its help option, set here once per process. Typer
0.29 also prints a flag's Python type (`<bool>`) beside it, which a flag that takes no value
does not need: flags show none.
"""

from __future__ import annotations

from typing import Any

from typer import core, rich_utils

from aibot.cli.common import tr
from aibot.i18n import N_, template, terminal_language

HELP_OPTION = N_("Show this message and exit.")
# typer fills these itself: their `{}` stay in (template, not translate).
DEFAULT = N_("[default: {}]")
ENVVAR = N_("[env var: {}]")
TRY_HELP = N_("Try [blue]'{command_path} {help_option}'[/] for help.")


def localize_help() -> None:
    """Typer's own words in the CLI's language (call before the app parses anything)."""
    rich_utils.ARGUMENTS_PANEL_TITLE = tr("Arguments")
    rich_utils.OPTIONS_PANEL_TITLE = tr("Options")
    rich_utils.COMMANDS_PANEL_TITLE = tr("Commands")
    rich_utils.ERRORS_PANEL_TITLE = tr("Error")
    rich_utils.ABORTED_TEXT = tr("Aborted.")
    language = terminal_language()
    rich_utils.DEFAULT_STRING = template(language, DEFAULT)
    rich_utils.ENVVAR_STRING = template(language, ENVVAR)
    rich_utils.REQUIRED_LONG_STRING = tr("[required]")
    rich_utils.RICH_HELP = template(language, TRY_HELP)
    option = getattr(core, "TyperOption", None)
    typed = getattr(option, "display_type_rich", None)
    if option is not None and typed is not None and not hasattr(typed, "_aibot"):

        def display_type_rich(self: Any, ctx: Any) -> str | None:
            return None if getattr(self, "is_flag", False) else typed(self, ctx)

        display_type_rich._aibot = True  # type: ignore[attr-defined]
        option.display_type_rich = display_type_rich
    command = getattr(getattr(core, "_click", None), "Command", None)
    get_help_option = getattr(command, "get_help_option", None)
    if (
        command is not None
        and get_help_option is not None
        and not hasattr(get_help_option, "_aibot")
    ):

        def help_option(self: Any, ctx: Any) -> Any:
            found = get_help_option(self, ctx)
            if found is not None:
                found.help = tr(HELP_OPTION)
            return found

        help_option._aibot = True  # type: ignore[attr-defined]
        command.get_help_option = help_option
