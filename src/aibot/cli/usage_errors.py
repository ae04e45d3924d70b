"""The command line's own refusals in the terminal's language: `No such option: --x`, a missing
argument, a value that does not parse, `Usage:` and the panel around them.

Typer 0.29 carries its own copy of click (`typer._click`) whose messages are English f-strings,
not gettext calls, so no catalog can be installed for them. The errors keep what they are about
(the option, the parameter, pydantic's error behind a value that does not parse), and the
message is made again here from our catalog; the root command (`LocalizedGroup`, typer's `cls`
hook) swaps the error for the translated one before typer shows it, with typer's own
`rich_format_error`, whose words (`Error`, `Try … for help.`) `help_text` localizes. Messages we
do not know stay English.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError
from typer import core
from typer._click import exceptions as click_errors

from aibot.i18n import N_, Phrase, terminal_language

NO_SUCH_OPTION = N_("No such option: {name}")
POSSIBLE = N_("{message} (Possible options: {names})")
MISSING = {
    "argument": N_("Missing argument {name}."),
    "option": N_("Missing option {name}."),
    "parameter": N_("Missing parameter {name}."),
}
INVALID_FOR = N_("Invalid value for {name}: {problem}")
INVALID = N_("Invalid value: {problem}")
ENV_VAR = N_("{names} (env var: '{envvar}')")
# What click and typer write with `ctx.fail` (their exact English, as typer 0.29 writes it).
FAILURES = [
    (re.compile(r"No such command '(?P<name>.*)'\.", re.S), N_("No such command '{name}'.")),
    (re.compile(r"Missing command\."), N_("Missing command.")),
    (
        re.compile(r"Got unexpected extra argument\(s\) \((?P<args>.*)\)", re.S),
        N_("Got unexpected extra argument(s) ({args})"),
    ),
    (
        re.compile(r"Option '(?P<name>[^']*)' requires an argument\."),
        N_("Option '{name}' requires an argument."),
    ),
    (
        re.compile(r"Option '(?P<name>[^']*)' requires (?P<n>\d+) arguments\."),
        N_("Option '{name}' requires {n} arguments."),
    ),
    (
        re.compile(r"Option '(?P<name>[^']*)' does not take a value\."),
        N_("Option '{name}' does not take a value."),
    ),
    (  # a value outside a choice's list, inside "Invalid value for …"
        re.compile(r"(?P<value>.+) is not one of (?P<choices>.+)\.", re.S),
        N_("{value} is not one of {choices}."),
    ),
]


class LocalizedGroup(core.TyperGroup):
    """The root `ai-bot` command: everything is parsed and run beneath its `make_context` and
    `invoke`, so a usage error from any command passes here on its way to typer's display."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        with translated_errors():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with translated_errors():
            return super().invoke(ctx)


@contextmanager
def translated_errors() -> Iterator[None]:
    try:
        yield
    except click_errors.ClickException as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # typer shows the help for it
            raise
        from aibot.cli.help_text import localize_typer

        localize_typer()
        said = translate(error, terminal_language())
        if said is error:
            raise
        raise said from None


def translate(error: click_errors.ClickException, language: str) -> click_errors.ClickException:
    """The same error, its message in `language` (typer shows it as it would the original)."""
    phrase = describe(error)
    if phrase is None:
        return error
    text = phrase.say(language)
    if isinstance(error, click_errors.UsageError):
        said: click_errors.ClickException = click_errors.UsageError(text, error.ctx)
    else:
        said = click_errors.ClickException(text)
    said.exit_code = error.exit_code
    return said


def describe(error: click_errors.ClickException) -> Phrase | None:
    if isinstance(error, click_errors.NoSuchOption):
        message = Phrase(NO_SUCH_OPTION, {"name": error.option_name})
        if error.possibilities:
            names = ", ".join(sorted(error.possibilities))
            return Phrase(POSSIBLE, {"message": message, "names": names})
        return message
    if isinstance(error, click_errors.MissingParameter):
        kind = error.param_type or getattr(error.param, "param_type_name", "parameter")
        if error.message or kind not in MISSING:
            return None  # a message of its own (or choices to list): stays as typer wrote it
        return Phrase(MISSING[kind], {"name": _hint(error)})
    if isinstance(error, click_errors.BadParameter):
        return _bad_value(error)
    return _known(error.message)


def _known(message: str) -> Phrase | None:
    """One of the messages click and typer write themselves, as a Phrase; None for others."""
    for pattern, msgid in FAILURES:
        if found := pattern.fullmatch(message):
            return Phrase(msgid, found.groupdict())
    return None


def _bad_value(error: click_errors.BadParameter) -> Phrase:
    problem: Phrase | str = error.message
    cause = error.__cause__
    if isinstance(cause, ValidationError) and cause.errors():
        from aibot.config.refusals import describe as describe_problem

        problem = describe_problem(cause.errors()[0])
    if isinstance(problem, str):
        problem = _known(problem) or problem
    hint = _hint(error)
    if not hint:
        return Phrase(INVALID, {"problem": problem})
    return Phrase(INVALID_FOR, {"name": hint, "problem": problem})


def _hint(error: click_errors.BadParameter) -> Phrase | str:
    """How the parameter is named in the message: `'--port' (env var: 'AIBOT_PORT')`."""
    if error.param_hint is not None:
        hint = error.param_hint
        return hint if isinstance(hint, str) else " / ".join(repr(x) for x in hint)
    param = error.param
    if param is None:
        return ""
    opts = getattr(param, "opts", None)
    if not isinstance(param, core.TyperOption) or not opts:
        return str(param.get_error_hint())
    names = " / ".join(f"'{name}'" for name in opts)
    if param.show_envvar and param.envvar is not None:
        return Phrase(ENV_VAR, {"names": names, "envvar": param.envvar})
    return names
