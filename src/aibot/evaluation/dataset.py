"""The eval test set: JSONL, one case a line, validated up front with one line per problem.

A line looks like::

    {"question": "2+2?", "reference": "4", "expect": "4", "tags": ["math"],
     "history": [{"role": "user", "content": "..."}, {"role": "assistant", "content": "..."}]}

All problems of a file are collected before anything runs, so a typo on line 80 is reported
together with the one on line 3 and never after half the model calls were paid for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from aibot.core.messages import Message

FIELDS = frozenset({"id", "question", "reference", "history", "tags", "expect"})
HISTORY_ROLES = frozenset({"system", "user", "assistant"})


@dataclass(frozen=True, slots=True)
class Case:
    """One question to put to every model, with what a good answer looks like."""

    id: str
    question: str
    reference: str
    history: tuple[Message, ...] = ()
    tags: tuple[str, ...] = ()
    expect: str | None = None  # exact-match target: these cases count towards task success


class DatasetError(ValueError):
    """Every problem found in a test set, one `file:line: problem` per entry."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def load_dataset(path: Path) -> list[Case]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise DatasetError([f"{path}: is a directory, not a JSONL file"]) from None
    except UnicodeDecodeError as exc:
        raise DatasetError([f"{path}: not UTF-8 text ({exc.reason})"]) from None
    except OSError as exc:
        raise DatasetError([f"{path}: cannot read ({exc.strerror})"]) from None
    return parse_dataset(text.splitlines(), str(path))


def parse_dataset(lines: Iterable[str], source: str) -> list[Case]:
    """Cases from JSONL `lines`; blank lines are skipped, ids default to the line number."""
    cases: list[Case] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            case = _parse_row(line, number)
        except ValueError as exc:
            problems.append(f"{source}:{number}: {exc}")
            continue
        if case.id in seen:
            problems.append(
                f"{source}:{number}: id {case.id!r} already used on line {seen[case.id]}"
            )
            continue
        seen[case.id] = number
        cases.append(case)
    if not cases and not problems:
        problems.append(f"{source}: no test cases (expected one JSON object per line)")
    if problems:
        raise DatasetError(problems)
    return cases


def _parse_row(line: str, number: int) -> Case:
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    unknown = sorted(set(row) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(FIELDS))})")
    question = _text(row, "question", required=True)
    reference = _text(row, "reference", required=True)
    expect = _text(row, "expect", required=False)
    case_id = row.get("id", str(number))
    if not isinstance(case_id, str | int) or isinstance(case_id, bool) or case_id == "":
        raise ValueError("'id' must be a non-empty string or an integer")
    return Case(
        id=str(case_id),
        question=question or "",
        reference=reference or "",
        history=_history(row.get("history", [])),
        tags=_tags(row.get("tags", [])),
        expect=expect,
    )


def _text(row: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        what = "missing" if value is None else "must be a non-empty string"
        raise ValueError(f"'{key}' {what}")
    return value


def _history(value: Any) -> tuple[Message, ...]:
    if not isinstance(value, list):
        raise ValueError("'history' must be a list of {role, content} objects")
    messages = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"role", "content"}:
            raise ValueError(f"history[{index}] must be an object with exactly role and content")
        role, content = item["role"], item["content"]
        if role not in HISTORY_ROLES:
            raise ValueError(
                f"history[{index}].role must be one of "
                f"{', '.join(sorted(HISTORY_ROLES))}, got {role!r}"
            )
        if not isinstance(content, str):
            raise ValueError(f"history[{index}].content must be a string")
        messages.append(Message(role, content))
    return tuple(messages)


def _tags(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
        raise ValueError("'tags' must be a list of non-empty strings")
    return tuple(dict.fromkeys(t.strip() for t in value))
