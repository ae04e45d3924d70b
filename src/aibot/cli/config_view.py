"""`ai-bot config`: the effective configuration (secrets masked) and the documented schema.

The effective view answers "what is the gateway actually using?" after defaults, `${VAR}`s and
.env are applied; the schema is generated from the pydantic models, so it cannot drift from
the code. Its descriptions are the models' `Field(description=N_("…"))` msgids, shown in the
terminal's language; the models (and anything else that reads them) keep the English.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from rich.table import Table
from rich.text import Text

from aibot.cli.common import console, listed, tr
from aibot.cli.wrapping import CjkText
from aibot.config import Config, LoadedConfig, url_password
from aibot.i18n import template, terminal_language
from aibot.ops.logging import mask_value

# Plain strings under names like these are secrets too: channels this version does not model
# are kept as raw mappings, so their tokens are not SecretStr.
_SECRET_NAME = re.compile(r"(pass(word)?|secret|token|key)s?$", re.I)
# Config sections parse durations with validators of this name; "duration" in the schema.
_DURATION_VALIDATOR = "_duration"
NARROW = 24  # columns of the schema's type and default


def _mask_url_password(value: str) -> str:
    password = url_password(value) if "://" in value else None
    return value.replace(f":{password}@", f":{mask_value(password)}@") if password else value


def masked(value: Any, key: str = "") -> Any:
    """A plain, YAML-ready copy of dumped config data with every secret cut to `mask_value`."""
    if isinstance(value, SecretStr):
        return mask_value(value.get_secret_value())
    if isinstance(value, dict):
        return {k: masked(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, key) for v in value]
    if isinstance(value, str):
        return mask_value(value) if _SECRET_NAME.search(key) else _mask_url_password(value)
    return value


def print_effective(loaded: LoadedConfig) -> None:
    if loaded.path is not None:
        console.print(
            "# " + tr("from {path}", path=str(loaded.path)), markup=False, highlight=False
        )
    else:
        console.print(
            "# "
            + tr(
                "no config file: built-in defaults plus provider keys found in the "
                "environment / .env"
            ),
            markup=False,
            highlight=False,
        )
    if loaded.missing_env:
        unset = tr("unset environment variables: {names}", names=listed(loaded.missing_env))
        console.print("# " + unset, markup=False, highlight=False)
    for notice in loaded.deprecated:
        console.print(
            "# " + tr("deprecated: {notice}", notice=notice),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    data = masked(loaded.config.model_dump(mode="python"))
    console.print(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip(),
        markup=False,
        highlight=False,
        soft_wrap=True,
    )


# --------------------------------------------------------------------------- schema


@dataclass(frozen=True)
class SchemaRow:
    path: str
    type: str
    default: str
    description: str


def print_schema() -> None:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    # type and default stay narrow (a long one folds) so the description gets the width
    columns = (
        (tr("key"), None),
        (tr("type"), NARROW),
        (tr("default"), NARROW),
        (tr("description"), None),
    )
    for title, width in columns:
        table.add_column(title, overflow="fold", max_width=width)
    for number, (section, description, rows) in enumerate(schema_sections()):
        if number:
            table.add_section()
        table.add_row(f"[bold]{section}[/]", "", "", CjkText(localized(description)))
        for row in rows:
            cells = (row.path, row.type, row.default)
            table.add_row(*(Text(cell) for cell in cells), CjkText(localized(row.description)))
    console.print(table, highlight=False)
    console.print(
        tr(
            "Durations accept 250ms, 10s, 30m, 1h, 2d or seconds; "
            "${{VAR}} and ${{VAR:-default}} read the environment and .env."
        ),
        markup=False,
    )


def localized(text: str | None) -> str:
    """A model's English (a description, a default reply) in the terminal's language. Looked up
    without filling anything in: it is not a format string (`${VAR}` and `{retry}` in it are
    meant literally)."""
    return template(terminal_language(), text) if text else ""


def schema_sections() -> Iterator[tuple[str, str | None, list[SchemaRow]]]:
    """Each section of config.yaml: its name, its description (an English msgid) and its keys;
    a list section (routes, schedules) shows its items' keys as `section[].key`."""
    for section, field in Config.model_fields.items():
        model, prefix = _model_of(field.annotation), section
        if model is None:
            model, prefix = _list_item_model(field.annotation), f"{section}[]"
        if model is not None:
            yield section, field.description, list(schema_rows(model, prefix))


def schema_rows(model: type[BaseModel], prefix: str) -> Iterator[SchemaRow]:
    """Every leaf key under `model`; a map of models (providers) shows as `<name>`."""
    durations = _duration_fields(model)
    for name, field in model.model_fields.items():
        path = f"{prefix}.{name}"
        nested = _model_of(field.annotation)
        if nested is not None:
            yield from schema_rows(nested, path)
            continue
        value_model = _map_value_model(field.annotation)
        if value_model is not None:
            yield from schema_rows(value_model, f"{path}.<name>")
            continue
        item_model = _list_item_model(field.annotation)
        if item_model is not None:
            yield from schema_rows(item_model, f"{path}[]")
            continue
        is_duration = name in durations
        yield SchemaRow(
            path,
            tr("duration") + (" | null" if _optional(field) else "")
            if is_duration
            else type_name(field.annotation),
            _default(field, duration=is_duration),
            field.description or "",
        )


def type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(annotation))
    if origin is Literal:
        return " | ".join(str(a) for a in get_args(annotation))
    if origin is list:
        return f"list[{type_name(get_args(annotation)[0])}]"
    if origin is tuple:
        return tr("rate")  # config/policy.py parses "5/minute" into (count, seconds)
    if origin is dict:
        key, value = get_args(annotation)
        return f"map[{type_name(key)}, {type_name(value)}]"
    if annotation is type(None):
        return "null"
    if annotation is SecretStr:
        return tr("secret")
    return str(getattr(annotation, "__name__", annotation))


def _default(field: FieldInfo, *, duration: bool) -> str:
    value = field.get_default(call_default_factory=True)
    if value is PydanticUndefined:
        return tr("(required)")
    if duration and isinstance(value, int | float):
        return f"{value:g}s"
    if isinstance(value, str) and " " in value:
        return localized(value)  # a default reply (N_ in the model), said in the reader's language
    if isinstance(value, str):
        return value or '""'
    return json.dumps(value)


def _optional(field: FieldInfo) -> bool:
    return type(None) in get_args(field.annotation)


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The section model behind `Model` or `Model | None`."""
    union = get_origin(annotation) in (Union, types.UnionType)
    for candidate in get_args(annotation) if union else (annotation,):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _map_value_model(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is not dict:
        return None
    return _model_of(get_args(annotation)[1])


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    if get_origin(annotation) is not list:
        return None
    return _model_of(get_args(annotation)[0])


def _duration_fields(model: type[BaseModel]) -> set[str]:
    validators = model.__pydantic_decorators__.field_validators.values()
    return {
        name for v in validators if v.cls_var_name == _DURATION_VALIDATOR for name in v.info.fields
    }
