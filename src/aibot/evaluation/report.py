"""The evaluation result as data: per-model scores, per-metric verdicts, and the JSON form.

A verdict names the model with the best mean on a metric and compares it with every other
model by paired bootstrap; the win is called significant only when its interval against each
of them lies entirely on the winning side of 0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from aibot.evaluation.dataset import Case
from aibot.evaluation.runner import Answer
from aibot.evaluation.scoring import METRICS, Metric, ModelScores, Price, score_model
from aibot.evaluation.stats import CONFIDENCE, RESAMPLES, Difference, paired_bootstrap

PERCENT_METRICS = frozenset({"success", "errors"})


@dataclass(frozen=True, slots=True)
class Comparison:
    """The winner's advantage over `against`: positive means the winner is better."""

    against: str
    advantage: Difference | None


@dataclass(frozen=True, slots=True)
class Verdict:
    metric: Metric
    winner: str | None  # None: a tie on the point estimate
    comparisons: tuple[Comparison, ...]

    @property
    def significant(self) -> bool:
        return self.winner is not None and all(
            c.advantage is not None and c.advantage.low > 0 for c in self.comparisons
        )

    @property
    def closest(self) -> Comparison | None:
        """The comparison with the smallest advantage: the one that decides significance."""
        known = [c for c in self.comparisons if c.advantage is not None]
        return min(known, key=lambda c: c.advantage.mean if c.advantage else 0.0, default=None)


@dataclass(frozen=True, slots=True)
class Report:
    source: str
    cases: Sequence[Case]
    answers: Mapping[str, Sequence[Answer]]
    scores: Sequence[ModelScores]
    verdicts: Sequence[Verdict]
    judge: str | None
    seed: int
    created_at: float


def build_report(
    source: str,
    cases: Sequence[Case],
    answers: Mapping[str, Sequence[Answer]],
    models: Mapping[str, str],
    *,
    judge: str | None,
    prices: Mapping[str, Price],
    seed: int,
) -> Report:
    """`models` maps each provider name to its model name, in the order to show them."""
    scores = [
        score_model(
            name,
            models[name],
            cases,
            answers[name],
            judged=judge is not None,
            price=prices.get(name),
        )
        for name in models
    ]
    verdicts = [v for m in METRICS if (v := _verdict(m, scores, seed)) is not None]
    return Report(source, cases, answers, scores, verdicts, judge, seed, time.time())


def _verdict(metric: Metric, scores: Sequence[ModelScores], seed: int) -> Verdict | None:
    """None when fewer than two models have a value (no judge, no prices, no `expect` rows)."""
    ranked = [(s.mean(metric.key), s) for s in scores]
    present = [(m, s) for m, s in ranked if m is not None]
    if len(present) < 2:
        return None
    present.sort(key=lambda item: item[0], reverse=metric.higher_is_better)
    (best_mean, best), (second_mean, _) = present[0], present[1]
    winner = None if best_mean == second_mean else best.name
    comparisons = []
    for _, other in present[1:]:
        better, worse = (best, other) if metric.higher_is_better else (other, best)
        comparisons.append(
            Comparison(
                other.name,
                paired_bootstrap(better.values[metric.key], worse.values[metric.key], seed=seed),
            )
        )
    return Verdict(metric, winner, tuple(comparisons))


def scale(metric_key: str, value: float | None) -> float | None:
    """The value as shown: fractions of cases as percentages."""
    if value is None:
        return None
    return value * 100 if metric_key in PERCENT_METRICS else value


_FORMATS = {"cost": "{:.4g}", "latency": "{:.3f}"}


def format_value(metric_key: str, value: float | None) -> str:
    """How tables show a metric: cost in 4 significant digits (a cent fraction per answer is
    normal), latency in milliseconds' precision, the rest in two decimals; a dash if absent."""
    shown = scale(metric_key, value)
    return "–" if shown is None else _FORMATS.get(metric_key, "{:.2f}").format(shown)


def describe_advantage(verdict: Verdict) -> str:
    """The deciding comparison in words, e.g. `12.30 [8.10, 16.02] vs b`; a dash if none."""
    closest = verdict.closest
    if closest is None or closest.advantage is None:
        return "–"
    key, adv = verdict.metric.key, closest.advantage
    return (
        f"{format_value(key, adv.mean)} [{format_value(key, adv.low)}, "
        f"{format_value(key, adv.high)}] vs {closest.against}"
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _difference(diff: Difference | None, metric_key: str) -> dict[str, Any] | None:
    if diff is None:
        return None
    return {
        "mean": _round(scale(metric_key, diff.mean)),
        "ci_low": _round(scale(metric_key, diff.low)),
        "ci_high": _round(scale(metric_key, diff.high)),
        "pairs": diff.n,
        "significant": diff.low > 0,
    }


def to_dict(report: Report) -> dict[str, Any]:
    """The JSON report: everything the terminal and HTML show, plus every answer."""
    return {
        "source": report.source,
        "created_at": report.created_at,
        "cases": len(report.cases),
        "judge": report.judge,
        "seed": report.seed,
        "bootstrap": {"resamples": RESAMPLES, "confidence": CONFIDENCE},
        "models": [
            {
                "provider": s.name,
                "model": s.model,
                "metrics": {m.key: _round(scale(m.key, s.mean(m.key))) for m in METRICS},
                "corpus_bleu": _round(s.corpus_bleu),
                "latency_p50": _round(s.latency_p50),
                "latency_p95": _round(s.latency_p95),
                "prompt_tokens": s.prompt_tokens,
                "completion_tokens": s.completion_tokens,
                "cost": _round(s.cost),
                "errors": s.errors,
                "judge_failures": s.judge_failures,
                "by_tag": {
                    tag: {k: _round(scale(k, v)) for k, v in values.items()}
                    for tag, values in s.by_tag.items()
                },
            }
            for s in report.scores
        ],
        "verdicts": [
            {
                "metric": v.metric.key,
                "label": v.metric.label,
                "better": "higher" if v.metric.higher_is_better else "lower",
                "winner": v.winner,
                "significant": v.significant,
                "comparisons": [
                    {"against": c.against, "advantage": _difference(c.advantage, v.metric.key)}
                    for c in v.comparisons
                ],
            }
            for v in report.verdicts
        ],
        "rows": [
            {
                "id": case.id,
                "question": case.question,
                "reference": case.reference,
                "expect": case.expect,
                "tags": list(case.tags),
                "answers": {
                    s.name: _answer(report.answers[s.name][i], s, i) for s in report.scores
                },
            }
            for i, case in enumerate(report.cases)
        ],
    }


def _answer(answer: Answer, scores: ModelScores, index: int) -> dict[str, Any]:
    return {
        "text": answer.text,
        "error": answer.error,
        "latency": _round(answer.latency),
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        **{m.key: _round(scores.values[m.key][index]) for m in METRICS},
    }


def to_json(report: Report) -> bytes:
    return orjson.dumps(to_dict(report), option=orjson.OPT_INDENT_2)
