"""What every config section shares: the base model, durations, and the one-line error."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from aibot.i18n import N_, Phrase

ENGLISH = "en"  # the msgids' own language: what str() of a ConfigError and the log read
# The pydantic error type of `invalid`, and where its msgid rides in the error's context.
OUR_ERROR = "aibot_config"
MSGID = "msgid"
# What a refusal lists as the configured providers when there are none.
NO_PROVIDERS = Phrase(N_("none"))

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class ConfigError(Exception):
    """A config problem the user must fix, one line per problem: `str()` is English (the log),
    `say(language)` the same lines in the reader's language.

    Raised with `ConfigError.of(N_("… {name} …"), name=…)` (or `lines=` of `Phrase`s) it keeps
    each line's msgid and values until it is shown: the CLI says it in the terminal's language,
    the console in the request's (`aibot.cli.common.problem`, `ConfigReloader.refusal`)."""

    def __init__(
        self,
        message: str = "",
        *,
        lines: Sequence[Phrase] = (),
        ui: tuple[str, str] | None = None,
    ) -> None:
        self.lines = tuple(lines)
        # A refused file's own ui.language and ui.default_language, when those two are valid:
        # the CLI says the refusal in them, as it would speak had the file loaded.
        self.ui = ui
        super().__init__(message or "\n".join(line.say(ENGLISH) for line in self.lines))

    @classmethod
    def of(cls, template: str, /, **params: object) -> Self:
        return cls(lines=(Phrase(template, params),))

    def say(self, language: str) -> str:
        """The problem in `language`; its English when it was raised without msgids."""
        return "\n".join(line.say(language) for line in self.lines) if self.lines else str(self)


def invalid(msgid: str, /, **params: object) -> PydanticCustomError:
    """What a config validator raises: pydantic reports it like its own errors (with where it
    is), and the msgid travels with it so the refusal is said in its reader's language
    (`aibot.config.refusals`). Values are shown as given, so pass `repr()` where quotes help."""
    return PydanticCustomError(OUR_ERROR, msgid, {**params, MSGID: msgid})


def parse_duration(value: Any) -> float:
    """Accept `30m`, `10s`, `250ms`, `1h`, `2d` or a plain number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION_RE.match(str(value))
    if not match:
        raise invalid(N_("not a duration: {value} (use e.g. 30s, 10m, 1h)"), value=repr(value))
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


class Section(BaseModel):
    """Unknown keys are errors, so a typo is reported instead of silently ignored.

    Built at first use, not at import (`defer_build`): the first load builds the root `Config`
    once, its sections inside it, instead of every section's validator and then the root's
    again (issue 20, cold start). A section held by another is declared with `section()`, and
    a list or map defaults to `default=[]` / `{}` (pydantic copies a mutable default) rather
    than `default_factory=list`, whose signature pydantic inspects at the build."""

    model_config = ConfigDict(extra="forbid", validate_default=True, defer_build=True)


def section(*, description: str) -> Any:
    """The field of a section held by another, defaulting to the section's own defaults: `{}`,
    validated by the enclosing model into exactly what `Model()` gives. A
    `default_factory=Model` would build that section's own validator to make its default, even
    for a section the file never names. Typed `Any`, as `Field` is, so the annotation states
    the section's type."""
    return Field(default={}, validate_default=True, description=description)
