"""Cold start (issue 20): the config's models are built by the first load, as one validator.

Every section is built at first use (`defer_build`, config/base.py `Section`): importing the
config builds nothing, and the first load builds the root `Config` with every section inside
it, while a section the file leaves out is made by that validator from `{}` (`section()`),
never by a validator of its own. Which models are built is read in a fresh interpreter:
stable on any machine, unlike a time.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, Union, get_origin

from pydantic import BaseModel

from aibot.config import Config
from tests.support.probes import probe

PROBE = """
import json, sys
from pydantic import BaseModel
import aibot.config

def built():
    models = {
        value
        for name, module in list(sys.modules.items()) if name.startswith("aibot.config")
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    }
    return sorted(m.__name__ for m in models if m.__pydantic_complete__)

at_import = built()
aibot.config.load_config(sys.argv[1])
print(json.dumps([at_import, built()]))
"""


def test_the_first_load_builds_the_root_alone(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("server:\n  port: 18789\n", encoding="utf-8")
    result = probe(PROBE, tmp_path, str(config))
    at_import, after_load = json.loads(result.stdout.strip().splitlines()[-1])
    assert at_import == []
    assert after_load == ["Config"]


def _section_type(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds as such (not `Model | None`, not in a list or map)."""
    if get_origin(annotation) in (Union, types.UnionType):
        return None
    return (
        annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    )


def _check_defaults(value: BaseModel, path: str) -> None:
    for name, field in type(value).model_fields.items():
        held = getattr(value, name)
        assert field.default_factory not in (list, dict), (
            f"{path}.{name}: default=[] or {{}}: pydantic inspects a factory's signature at "
            "the build and copies a mutable default"
        )
        model = _section_type(field.annotation)
        if model is None:
            continue
        assert field.default_factory is not model, f"{path}.{name}: declare it with section()"
        assert type(held) is model, f"{path}.{name} is a {type(held).__name__}"
        assert held == model(), f"{path}.{name} differs from {model.__name__}()"
        _check_defaults(held, f"{path}.{name}")


def test_a_section_left_out_is_what_its_model_gives() -> None:
    """`section()`'s `{}`, validated by the enclosing model, is `Model()` at every depth."""
    _check_defaults(Config(), "config")
