"""What every config section shares: the base model, durations, and the one-line error."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


class ConfigError(Exception):
    """A config problem the user must fix; `str()` is one line per problem, in English.

    Raised with `ConfigError.of(N_("… {name} …"), name=…)` it also keeps the catalog msgid and
    its values, so the CLI can say it in the user's language (`aibot.cli.common.problem`)."""

    def __init__(
        self,
        message: str = "",
        *,
        template: str | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        self.template = template
        self.params = dict(params or {})
        super().__init__(message or (template or "").format_map(self.params))

    @classmethod
    def of(cls, template: str, /, **params: object) -> Self:
        return cls(template=template, params=params)


def parse_duration(value: Any) -> float:
    """Accept `30m`, `10s`, `250ms`, `1h`, `2d` or a plain number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION_RE.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 10m, 1h)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


class Section(BaseModel):
    """Unknown keys are errors, so a typo is reported instead of silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
