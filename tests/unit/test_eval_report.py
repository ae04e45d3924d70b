"""Verdicts across three models, ties, and an HTML report that escapes what models say."""

from __future__ import annotations

import pytest

from aibot.evaluation.dataset import Case
from aibot.evaluation.html_report import render_html
from aibot.evaluation.report import build_report, to_dict
from aibot.evaluation.runner import Answer
from tests.support.html import StrictHTML

CASES = [
    Case(
        str(i),
        f"q{i} <script>alert(1)</script>",
        f"answer number {i} is here",
        tags=("<b>tag</b>", "t2") if i % 2 else (),
    )
    for i in range(12)
]


def answers(words: str, latency: float = 0.1) -> list[Answer]:
    return [
        Answer(
            text=f"answer number {i} {words}", latency=latency, prompt_tokens=5, completion_tokens=5
        )
        for i in range(12)
    ]


def test_the_winner_must_beat_every_other_model_to_be_significant() -> None:
    report = build_report(
        "set",
        CASES,
        {"best": answers("is here"), "close": answers("is here"), "poor": answers("x y z")},
        {"best": "b", "close": "c", "poor": "p"},
        judge=None,
        prices={},
        seed=1,
    )
    bleu = next(v for v in report.verdicts if v.metric.key == "bleu")
    assert bleu.winner is None  # best and close answered identically: a tie
    assert not bleu.significant
    report = build_report(
        "set",
        CASES,
        {
            "poor": answers("x y z", latency=0.3),
            "best": answers("is here", latency=0.1),
            "mid": answers("is", latency=0.2),
        },
        {"poor": "p", "best": "b", "mid": "m"},
        judge=None,
        prices={},
        seed=1,
    )
    verdicts = {v.metric.key: v for v in report.verdicts}
    assert verdicts["bleu"].winner == "best" and verdicts["bleu"].significant
    assert [c.against for c in verdicts["bleu"].comparisons] == ["mid", "poor"]
    closest = verdicts["bleu"].closest
    assert closest is not None and closest.against == "mid"
    assert verdicts["latency"].winner == "best" and verdicts["latency"].significant
    assert set(verdicts) == {"bleu", "errors", "latency", "tokens"}  # no expect, judge, prices
    data = to_dict(report)
    assert [m["provider"] for m in data["models"]] == ["poor", "best", "mid"]
    assert data["verdicts"][0]["comparisons"][0]["advantage"]["ci_low"] > 0


def test_html_escapes_model_and_dataset_text_and_charts_every_tag() -> None:
    evil = [Answer(text="</pre><script>steal()</script>", latency=0.1) for _ in CASES]
    report = build_report(
        "a<b>.jsonl",
        CASES,
        {"m1": answers("is here"), "m2": evil},
        {"m1": "x", "m2": "y"},
        judge=None,
        prices={},
        seed=1,
    )
    page = render_html(report)
    assert "<script" not in page and "&lt;script&gt;steal()" in page
    parser = StrictHTML()
    parser.feed(page)
    parser.close()
    assert parser.open == [] and parser.counts["svg"] == 1  # BLEU only: no expect, no judge
    assert "&lt;b&gt;tag&lt;/b&gt;" in page and ">t2<" in page and ">untagged<" in page


def test_the_terminal_report_speaks_the_terminal_language(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from aibot.evaluation.terminal import print_report

    report = build_report(
        "set",
        CASES,
        {"best": answers("is here"), "poor": answers("x y z")},
        {"best": "b", "poor": "p"},
        judge=None,
        prices={},
        seed=1,
    )
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    shown = {}
    for lang in ("zh_CN.UTF-8", "en_US.UTF-8"):
        monkeypatch.setenv("LANG", lang)
        console = Console(record=True, width=200)
        print_report(report, console)
        shown[lang] = console.export_text()
    for words in ("胜出", "延迟（平均）", "否（随机波动）", "12 个用例"):
        assert words in shown["zh_CN.UTF-8"], shown["zh_CN.UTF-8"]
    assert "winner" not in shown["zh_CN.UTF-8"]
    assert "winner" in shown["en_US.UTF-8"] and "12 cases from set" in shown["en_US.UTF-8"]
