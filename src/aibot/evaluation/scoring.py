"""Per-answer scores and per-model summaries: BLEU-4, task success, judge, errors, latency, cost.

Every metric keeps one value per case (None where it does not apply) so stats can pair the
same cases across models; summaries are the means of those values. A failed call scores the
worst on every quality metric (BLEU 0, task failed, judge 1) and is counted as an error.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from sacrebleu.metrics.bleu import BLEU

from aibot.evaluation.dataset import Case
from aibot.evaluation.runner import Answer
from aibot.i18n import N_

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SPACES = re.compile(r"\s+")
# Stripped from both ends before an exact match: "42." and "**42**" still match "42".
_EDGE_PUNCTUATION = " \t\n.,;:!?\"'`*_()[]{}。，；：！？、“”‘’（）【】《》"
UNTAGGED = "untagged"
JUDGE_FLOOR = 1.0


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    higher_is_better: bool
    unit: str = ""


BLEU_METRIC = Metric("bleu", N_("BLEU-4 (sentence mean)"), True)
SUCCESS = Metric("success", N_("task success"), True, "%")
JUDGE = Metric("judge", N_("judge score (1-5)"), True)
ERRORS = Metric("errors", N_("error rate"), False, "%")
LATENCY = Metric("latency", N_("latency (mean)"), False, "s")
TOKENS = Metric("tokens", N_("tokens per answer"), False)
COST = Metric("cost", N_("cost per answer"), False)
METRICS = (BLEU_METRIC, SUCCESS, JUDGE, ERRORS, LATENCY, TOKENS, COST)
TAG_METRICS = (BLEU_METRIC, SUCCESS, JUDGE)


@dataclass(frozen=True, slots=True)
class Price:
    """Price per 1,000 prompt and completion tokens, in whatever currency the user thinks in."""

    prompt: float
    completion: float

    def of(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / 1000


@dataclass(slots=True)
class ModelScores:
    """One model's scores: per-case values by metric key, and the totals a table shows."""

    name: str
    model: str
    values: dict[str, list[float | None]]
    corpus_bleu: float
    latency_p50: float | None
    latency_p95: float | None
    prompt_tokens: int
    completion_tokens: int
    errors: int
    judge_failures: int
    cost: float | None
    by_tag: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def mean(self, key: str) -> float | None:
        return mean(self.values[key])


def mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def bleu_tokenizer(*texts: str) -> str:
    """sacrebleu's `zh` tokenizer (one token per Chinese character, 13a for the rest) when
    any text has Chinese, `13a` otherwise: whitespace tokenization would make a whole Chinese
    sentence one "word" and BLEU meaningless."""
    return "zh" if any(_CJK.search(t) for t in texts) else "13a"


@cache
def _bleu(tokenize: str, *, sentence: bool) -> BLEU:
    return BLEU(tokenize=tokenize, effective_order=sentence)


def sentence_bleu(hypothesis: str, reference: str) -> float:
    return float(
        _bleu(bleu_tokenizer(reference), sentence=True)
        .sentence_score(hypothesis, [reference])
        .score
    )


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    return float(
        _bleu(bleu_tokenizer(*references), sentence=False)
        .corpus_score(list(hypotheses), [list(references)])
        .score
    )


def normalize(text: str) -> str:
    """Compare answers the way a person would: width, case, spacing and edge punctuation."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", folded).strip(_EDGE_PUNCTUATION)


def exact_match(answer: str, expect: str) -> bool:
    return normalize(answer) == normalize(expect)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), q in 0..100."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def score_model(
    name: str,
    model: str,
    cases: Sequence[Case],
    answers: Sequence[Answer],
    *,
    judged: bool,
    price: Price | None,
) -> ModelScores:
    values: dict[str, list[float | None]] = {m.key: [] for m in METRICS}
    for case, answer in zip(cases, answers, strict=True):
        for key, value in _case_values(case, answer, judged=judged, price=price).items():
            values[key].append(value)
    latencies = [a.latency for a in answers if a.latency is not None]
    answered = [a for a in answers if a.error is None]
    prompt = sum(a.prompt_tokens for a in answered)
    completion = sum(a.completion_tokens for a in answered)
    scores = ModelScores(
        name=name,
        model=model,
        values=values,
        corpus_bleu=corpus_bleu([a.text or "" for a in answers], [c.reference for c in cases]),
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
        prompt_tokens=prompt,
        completion_tokens=completion,
        errors=len(answers) - len(answered),
        judge_failures=sum(1 for a in answered if judged and a.judge is None),
        cost=price.of(prompt, completion) if price else None,
    )
    scores.by_tag = _by_tag(cases, values)
    return scores


def _case_values(
    case: Case, answer: Answer, *, judged: bool, price: Price | None
) -> dict[str, float | None]:
    text = answer.text
    failed = text is None
    success: float | None = None
    if case.expect is not None:
        success = float(not failed and exact_match(text or "", case.expect))
    judge: float | None = None
    if judged:
        judge = JUDGE_FLOOR if failed else (None if answer.judge is None else float(answer.judge))
    tokens = answer.prompt_tokens + answer.completion_tokens
    return {
        BLEU_METRIC.key: 0.0 if failed else sentence_bleu(text or "", case.reference),
        SUCCESS.key: success,
        JUDGE.key: judge,
        ERRORS.key: float(failed),
        LATENCY.key: answer.latency,
        TOKENS.key: None if failed else float(tokens),
        COST.key: None
        if failed or price is None
        else price.of(answer.prompt_tokens, answer.completion_tokens),
    }


def _by_tag(
    cases: Sequence[Case], values: Mapping[str, list[float | None]]
) -> dict[str, dict[str, float | None]]:
    """Means of the quality metrics over the cases carrying each tag."""
    members: dict[str, list[int]] = {}
    for index, case in enumerate(cases):
        for tag in case.tags or (UNTAGGED,):
            members.setdefault(tag, []).append(index)
    return {
        tag: {m.key: mean([values[m.key][i] for i in indexes]) for m in TAG_METRICS}
        for tag, indexes in sorted(members.items())
    }
