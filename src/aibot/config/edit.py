"""Changing config.yaml in place for the console and the CLI, the way a careful person would.

Comments, key order and quoting are kept (ruamel.yaml round trip); the file is replaced
atomically (the gateway's watch never reads half a file) and keeps its mode, so a 0600
config.yaml holding secrets never becomes world-readable. The running gateway then applies the
change through its reloader, which validates it first.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any


def edit_config(path: Path, change: Callable[[dict[str, Any]], None]) -> bytes:
    """Applies `change` to the parsed document and writes it back; returns the previous bytes
    for `restore`. ValueError when the file does not parse or is not a mapping."""
    from ruamel.yaml import YAML  # only the console's settings pages edit the file
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    previous = path.read_bytes()
    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        document = yaml.load(previous.decode("utf-8")) or CommentedMap()
    except (UnicodeDecodeError, YAMLError) as exc:
        raise ValueError(f"{path} does not parse now: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path}: the top level is not a mapping")
    change(document)
    text = io.StringIO()
    yaml.dump(document, text)
    _replace(path, text.getvalue().encode("utf-8"))
    return previous


def restore(path: Path, previous: bytes) -> None:
    _replace(path, previous)


def section(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """The mapping under `key`, created when missing."""
    from ruamel.yaml.comments import CommentedMap

    value = parent.get(key)
    if value is None:
        value = parent[key] = CommentedMap()
    if not isinstance(value, dict):
        raise ValueError(f"{key} in config.yaml is not a mapping")
    return value


def _replace(path: Path, data: bytes) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    temporary = path.with_name(f".{path.name}.edit.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)
    temporary.replace(path)
