"""Per-answer scores: BLEU-4 with a Chinese-aware tokenizer, exact match, judge parsing."""

from __future__ import annotations

import pytest
from sacrebleu.metrics.bleu import BLEU

from aibot.evaluation.dataset import Case
from aibot.evaluation.judge import parse_score
from aibot.evaluation.runner import Answer
from aibot.evaluation.scoring import (
    Price,
    bleu_tokenizer,
    corpus_bleu,
    exact_match,
    percentile,
    score_model,
    sentence_bleu,
)


def test_chinese_is_scored_per_character_not_as_one_word() -> None:
    reference = "缓存是把常用的数据临时存放在更快的存储里。"
    close = "缓存是把常用数据临时放在更快的存储里。"
    assert bleu_tokenizer(reference) == "zh" and bleu_tokenizer("plain text") == "13a"
    assert sentence_bleu(reference, reference) == pytest.approx(100.0)
    assert 30 < sentence_bleu(close, reference) < 100
    # With whitespace tokens the whole sentence is one word and a near miss scores ~0.
    assert BLEU(tokenize="13a", effective_order=True).sentence_score(close, [reference]).score < 30


def test_english_bleu_and_corpus_bleu() -> None:
    reference = "A circuit breaker stops calling a failing service for a while."
    assert sentence_bleu(reference, reference) == pytest.approx(100.0)
    assert sentence_bleu("I do not know.", reference) < 10
    assert corpus_bleu([reference, "北京"], [reference, "北京"]) == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("answer", "expect", "match"),
    [
        ("42", "42", True),
        ("42.", "42", True),
        ("**42**", "42", True),
        (" Paris ", "paris", True),
        ("４２", "42", True),
        ("北京。", "北京", True),
        ("/reset", "/reset", True),
        ("The answer is 42", "42", False),
        ("43", "42", False),
        ("上海", "北京", False),
    ],
)
def test_exact_match_ignores_case_width_spacing_and_edge_punctuation(
    answer: str, expect: str, match: bool
) -> None:
    assert exact_match(answer, expect) is match


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ("Score: 4\nMostly right.", 4),
        ("**Score**: 5/5", 5),
        ('{"score": 3, "why": "x"}', 3),
        ("评分：2 回答不完整", 2),
        ("5 - correct and complete", 5),
        ("Rating: 1", 1),
        ("I cannot grade this.", None),
        ("Score: 7", None),
        ("Score: 4.5", None),
        ("", None),
    ],
)
def test_judge_replies_are_parsed_robustly(reply: str, score: int | None) -> None:
    assert parse_score(reply) == score


def test_percentile_matches_linear_interpolation() -> None:
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(i) for i in range(1, 101)], 95) == pytest.approx(95.05)


def test_a_failed_call_scores_worst_and_is_counted() -> None:
    cases = [Case("1", "q", "Paris", expect="Paris", tags=("faq",)), Case("2", "q2", "ok")]
    answers = [
        Answer(error="boom"),
        Answer(text="ok", latency=0.5, prompt_tokens=10, completion_tokens=2, judge=4),
    ]
    scores = score_model("m", "model", cases, answers, judged=True, price=Price(1.0, 2.0))
    assert scores.values["bleu"][0] == 0.0 and scores.values["success"] == [0.0, None]
    assert scores.values["judge"] == [1.0, 4.0] and scores.values["errors"] == [1.0, 0.0]
    assert scores.values["latency"] == [None, 0.5] and scores.values["tokens"] == [None, 12.0]
    assert scores.errors == 1 and scores.judge_failures == 0
    assert scores.cost == pytest.approx(0.014)  # 10/1000*1 + 2/1000*2
    assert scores.by_tag["faq"]["success"] == 0.0
    assert scores.by_tag["untagged"]["bleu"] == pytest.approx(100.0)
