"""What a refused config says, line by line, in its reader's language.

pydantic writes its errors in English. Each error has a stable `type` and the values its
message is made of (`ctx`), so the message is made again here from a msgid of our catalog: a
refusal is a list of `Phrase`s, said in Chinese on a Chinese terminal or console page and in
English in the log. Our own validators raise `invalid(N_("…"), …)`, whose msgid rides in the
error itself. A type not listed here keeps pydantic's English (the test that puts wrong values
at every key of the schema lists the types a config.yaml can produce, so none is missed).
"""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from aibot.config.base import MSGID, OUR_ERROR, ConfigError
from aibot.config.schema import Config
from aibot.config.ui import UiConfig
from aibot.i18n import N_, Phrase

# pydantic's error types, by what a config.yaml can get wrong; `{placeholders}` are the ctx's.
PYDANTIC_MESSAGES: dict[str, str] = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("unknown key (check spelling; `ai-bot config --schema` lists every key)"),
    "string_type": N_("Input should be a valid string"),
    "string_too_short": N_("String should have at least {min_length} characters"),
    "string_too_long": N_("String should have at most {max_length} characters"),
    "string_pattern_mismatch": N_("String should match pattern '{pattern}'"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer, unable to parse string as an integer"),
    "int_parsing_size": N_("Unable to parse input string as an integer, exceeded maximum size"),
    "int_from_float": N_("Input should be a valid integer, got a number with a fractional part"),
    "float_type": N_("Input should be a valid number"),
    "float_parsing": N_("Input should be a valid number, unable to parse string as a number"),
    "finite_number": N_("Input should be a finite number"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean, unable to interpret input"),
    "greater_than": N_("Input should be greater than {gt}"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "less_than": N_("Input should be less than {lt}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "literal_error": N_("Input should be {expected}"),
    "enum": N_("Input should be {expected}"),
    "list_type": N_("Input should be a valid list"),
    "tuple_type": N_("Input should be a valid tuple"),
    "too_short": N_("Input should have at least {min_length} items, not {actual_length}"),
    "too_long": N_("Input should have at most {max_length} items, not {actual_length}"),
    "dict_type": N_("Input should be a valid dictionary"),
    "model_type": N_("Input should be a valid dictionary"),
    "model_attributes_type": N_("Input should be a valid dictionary"),
    "path_type": N_("Input should be a valid path"),
    "url_type": N_("URL input should be a string or URL"),
    "url_parsing": N_("Input should be a valid URL, {error}"),
    "url_scheme": N_("URL scheme should be {expected_schemes}"),
}
WHERE_TOP = N_("(top level)")
LINE = N_("{source}: {where}: {problem}")
LINE_WITH_VALUE = N_("{source}: {where}: {problem} (got {value})")
# pydantic lists choices as "'a', 'b' or 'c'"; the "or" is said in the reader's language.
CHOICES = N_("{choices} or {last}")
_LISTS = ("expected", "expected_schemes")
_BOUNDS = ("gt", "ge", "lt", "le")


def refusal(error: ValidationError, source: str, data: Mapping[str, Any]) -> ConfigError:
    """One line per problem: `<file>: <where>: <what> (got <value>)`, the value left out
    where it may be a secret (`_may_show`); `data` is what was validated, for its `ui:` (the
    language to say it in, when that part is right)."""
    lines = [_line(problem, source) for problem in error.errors()]
    try:
        ui = UiConfig.model_validate(data.get("ui") or {})
    except ValidationError:
        return ConfigError(lines=lines)
    return ConfigError(lines=lines, ui=(ui.language, ui.default_language))


def describe(problem: ErrorDetails) -> Phrase | str:
    """What is wrong, without where: a Phrase when we know the words, else pydantic's English."""
    ctx = dict(problem.get("ctx") or {})
    kind = problem["type"]
    if kind == OUR_ERROR and isinstance(ctx.get(MSGID), str):
        msgid = ctx.pop(MSGID)
        return Phrase(msgid, ctx)
    msgid = PYDANTIC_MESSAGES.get(kind)
    if msgid is None:
        return problem["msg"].removeprefix("Value error, ")
    return Phrase(msgid, {name: _shown(name, value) for name, value in ctx.items()})


def _line(problem: ErrorDetails, source: str) -> Phrase:
    where = ".".join(str(p) for p in problem["loc"]) or Phrase(WHERE_TOP)
    got = problem.get("input")
    params = {"source": source, "where": where, "problem": describe(problem)}
    # our own messages quote what they need (and never a secret): no "(got …)" after them
    if isinstance(got, dict | list) or got is None or problem["type"] == OUR_ERROR:
        return Phrase(LINE, params)
    if not _may_show(problem["loc"]):  # the line still says where, for it to be fixed
        return Phrase(LINE, params)
    return Phrase(LINE_WITH_VALUE, {**params, "value": repr(got)})


def _may_show(loc: tuple[int | str, ...]) -> bool:
    """Whether the value refused at `loc` may be quoted: not where a secret belongs (an
    all-digit token read as an int is still the token), nor a section, list or map holding
    one, nor a key the schema does not have (a misspelt `app_secert:`). Decided by walking
    `loc` through the schema's field types, so a secret field is known by its type."""
    kinds: list[Any] = [Config]
    for step in loc:
        kinds = [inner for kind in kinds for inner in _inside(kind, step)]
    return bool(kinds) and not any(_holds_secret(kind) for kind in kinds)


def _inside(kind: Any, step: int | str) -> list[Any]:
    """The types a value of type `kind` holds at `step` (a field, a list index, a map key)."""
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        return [inner for arm in get_args(kind) for inner in _inside(arm, step)]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        field = kind.model_fields.get(step) if isinstance(step, str) else None
        return [] if field is None else [field.annotation]
    if origin in (list, set, frozenset) and isinstance(step, int):
        return [get_args(kind)[0]]
    if origin is dict and isinstance(step, str):
        return [get_args(kind)[1]]
    return []


def _holds_secret(kind: Any) -> bool:
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return _section_holds_secret(kind)
    return kind is SecretStr or any(_holds_secret(arg) for arg in get_args(kind))


@functools.cache
def _section_holds_secret(model: type[BaseModel]) -> bool:
    return any(_holds_secret(field.annotation) for field in model.model_fields.values())


def _shown(name: str, value: Any) -> object:
    """A ctx value as pydantic shows it: `0` for a bound of 0.0, "'a' or 'b'" for choices."""
    if name in _BOUNDS and isinstance(value, float) and value.is_integer():
        return int(value)
    if name in _LISTS and isinstance(value, str) and " or " in value:
        choices, last = value.rsplit(" or ", 1)
        return Phrase(CHOICES, {"choices": choices, "last": last})
    return value
