"""Test-set validation: every bad row is reported as `file:line: problem`, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from aibot.evaluation.dataset import DatasetError, load_dataset, parse_dataset
from tests.support.eval_data import SAMPLES


def problems_of(text: str) -> list[str]:
    with pytest.raises(DatasetError) as caught:
        parse_dataset(text.splitlines(), "set.jsonl")
    return caught.value.problems


def test_shipped_sample_is_valid_bilingual_and_has_exact_match_tasks() -> None:
    cases = load_dataset(SAMPLES)
    assert 10 <= len(cases) <= 20
    tags = {t for c in cases for t in c.tags}
    assert {"math", "faq", "zh"} <= tags
    assert all(c.expect for c in cases if {"math", "faq"} & set(c.tags))
    assert any(c.history for c in cases)


def test_a_full_row_is_parsed() -> None:
    [case] = parse_dataset(
        [
            '{"id": 7, "question": "q", "reference": "r", "expect": "42", "tags": ["math", "math"],'
            ' "history": [{"role": "user", "content": "hi"},'
            ' {"role": "assistant", "content": "yo"}]}'
        ],
        "s",
    )
    assert (case.id, case.question, case.reference, case.expect) == ("7", "q", "r", "42")
    assert case.tags == ("math",)
    assert [(m.role, m.content) for m in case.history] == [("user", "hi"), ("assistant", "yo")]


def test_every_bad_row_is_one_line_with_file_and_line_number() -> None:
    text = "\n".join(
        [
            '{"question": "ok", "reference": "fine"}',
            "",
            "{not json",
            '["a list"]',
            '{"question": "q"}',
            '{"question": "  ", "reference": "r"}',
            '{"question": "q", "reference": "r", "answer": "typo"}',
            '{"question": "q", "reference": "r", "history": [{"role": "robot", "content": "x"}]}',
            '{"question": "q", "reference": "r", "history": "nope"}',
            '{"question": "q", "reference": "r", "tags": "math"}',
            '{"question": "q", "reference": "r", "expect": 42}',
            '{"id": "1", "question": "q", "reference": "r"}',
        ]
    )
    problems = problems_of(text)
    assert problems[0].startswith("set.jsonl:3: not valid JSON (")  # orjson's words follow
    assert problems[1:] == [
        "set.jsonl:4: expected a JSON object, got list",
        "set.jsonl:5: 'reference' missing",
        "set.jsonl:6: 'question' must be a non-empty string",
        "set.jsonl:7: unknown field 'answer' (allowed: expect, history, id, question, "
        "reference, tags)",
        "set.jsonl:8: history[0].role must be one of assistant, system, user, got 'robot'",
        "set.jsonl:9: 'history' must be a list of {role, content} objects",
        "set.jsonl:10: 'tags' must be a list of non-empty strings",
        "set.jsonl:11: 'expect' must be a non-empty string",
        "set.jsonl:12: id '1' already used on line 1",
    ]


def test_empty_missing_and_binary_files_are_one_clear_line(tmp_path: Path) -> None:
    assert problems_of("\n\n") == ["set.jsonl: no test cases (expected one JSON object per line)"]
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(DatasetError, match=r"nope\.jsonl: no such file"):
        load_dataset(missing)
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(DatasetError, match="not UTF-8"):
        load_dataset(binary)
    with pytest.raises(DatasetError, match="is a directory"):
        load_dataset(tmp_path)
