"""Every error a config.yaml can produce has words in both languages: wrong values are put at
every key of the schema (and inside its lists and mappings), and each error pydantic reports
must be one the refusal knows (its own type, or one of ours), said differently in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from aibot.config import ConfigError, load_config, parse_duration
from aibot.config.base import OUR_ERROR
from aibot.config.refusals import PYDANTIC_MESSAGES, describe
from aibot.config.schema import Config
from aibot.i18n import Phrase

WRONG: list[object] = [
    "x",
    -1,
    0,
    10**30,
    1.5,
    float("inf"),
    True,
    None,
    [],
    {},
    ["x"],
    [1, 2, 3],
    {"a": "b"},
    {"a": {"b": 1}},
    "a" * 100,
]
# What the schema produces today; a type that joins this list needs words first.
PRODUCED = {
    "missing",
    "extra_forbidden",
    "string_type",
    "string_too_short",
    "string_too_long",
    "int_type",
    "int_parsing",
    "int_from_float",
    "float_type",
    "float_parsing",
    "finite_number",
    "bool_type",
    "bool_parsing",
    "greater_than",
    "greater_than_equal",
    "less_than_equal",
    "literal_error",
    "list_type",
    "dict_type",
    "model_type",
    "path_type",
    OUR_ERROR,
}


def keys(model: type[BaseModel], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, field in model.model_fields.items():
        yield (*path, name)
        for inner in getattr(field.annotation, "__args__", None) or (field.annotation,):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from keys(inner, (*path, name))


def at(path: tuple[str, ...], value: object) -> dict[str, Any]:
    data: dict[str, Any] = {}
    node = data
    for name in path[:-1]:
        node = node.setdefault(name, {})
    node[path[-1]] = value
    return data


def errors() -> Iterator[ErrorDetails]:
    for path in keys(Config):
        for wrong in WRONG + [[w] for w in WRONG[:8]] + [{"k": w} for w in WRONG[:8]]:
            try:
                Config.model_validate(at(path, wrong))
            except ValidationError as error:
                yield from error.errors()


@pytest.fixture(scope="module")
def produced() -> list[ErrorDetails]:
    return list(errors())


def test_every_error_type_a_config_can_produce_has_words(produced: list[ErrorDetails]) -> None:
    kinds = {problem["type"] for problem in produced}
    assert kinds == PRODUCED
    assert kinds - {OUR_ERROR} <= PYDANTIC_MESSAGES.keys()


def test_each_is_said_in_chinese(produced: list[ErrorDetails]) -> None:
    """A placeholder the ctx lacks would leave the msgid as is, the same in both languages."""
    for problem in produced:
        said = describe(problem)
        assert isinstance(said, Phrase), problem
        assert said.say("zh-CN") != said.say("en"), problem


def test_a_validators_own_words_carry_their_values() -> None:
    with pytest.raises(ValueError, match="not a duration: 'soon'"):
        parse_duration("soon")  # pydantic's own English, for callers outside a model


def test_the_refusal_lines_in_both_languages(tmp_path: Any) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("server:\n  port: 0\nui:\n  language: xx\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert refused.value.say("zh-CN").splitlines() == [
        f"{path}：server.port：应大于或等于 1（当前值：0）",
        f"{path}：ui.language：应为 'auto', 'zh-CN' 或 'en'（当前值：'xx'）",
    ]
    assert str(refused.value).splitlines() == [
        f"{path}: server.port: Input should be greater than or equal to 1 (got 0)",
        f"{path}: ui.language: Input should be 'auto', 'zh-CN' or 'en' (got 'xx')",
    ]
    assert refused.value.ui is None  # its ui: is wrong, so the terminal's language stays
