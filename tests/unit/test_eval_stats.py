"""Paired bootstrap: a real difference is significant, no difference is not, and it is seeded."""

from __future__ import annotations

import random

import pytest

from aibot.evaluation.stats import paired_bootstrap


def noisy(seed: int, n: int, shift: float) -> tuple[list[float | None], list[float | None]]:
    """Per-case scores where case difficulty varies a lot and b trails a by `shift`."""
    rng = random.Random(seed)
    a: list[float | None] = []
    b: list[float | None] = []
    for _ in range(n):
        difficulty = rng.uniform(0, 60)
        a.append(difficulty + rng.gauss(0, 3))
        b.append(difficulty - shift + rng.gauss(0, 3))
    return a, b


def test_known_difference_gives_an_interval_around_it_that_excludes_zero() -> None:
    a, b = noisy(1, 200, shift=5.0)
    diff = paired_bootstrap(a, b, seed=7)
    assert diff is not None and diff.n == 200
    assert diff.significant and diff.low > 0
    assert diff.low < diff.mean < diff.high and abs(diff.mean - 5.0) < 1.0
    assert diff.high - diff.low < 2.0  # pairing cancels the wide spread of difficulty


def test_identical_models_are_within_noise() -> None:
    a, _ = noisy(2, 100, shift=0.0)
    diff = paired_bootstrap(a, list(a), seed=7)
    assert diff is not None and (diff.mean, diff.low, diff.high) == (0.0, 0.0, 0.0)
    assert not diff.significant
    a, b = noisy(3, 100, shift=0.0)  # same quality, independent noise
    diff = paired_bootstrap(a, b, seed=7)
    assert diff is not None and diff.low < 0 < diff.high and not diff.significant


def test_interval_coverage_is_about_95_percent() -> None:
    """Over many synthetic experiments the interval holds the true difference ~95% of the
    time: the percentile bootstrap is neither wildly over- nor under-confident."""
    covered = 0
    trials = 200
    for trial in range(trials):
        a, b = noisy(100 + trial, 60, shift=2.0)
        diff = paired_bootstrap(a, b, seed=trial, resamples=500)
        assert diff is not None
        covered += diff.low <= 2.0 <= diff.high
    assert 0.88 <= covered / trials <= 0.99


def test_same_seed_same_interval_and_missing_values_are_unpaired() -> None:
    a, b = noisy(4, 50, shift=1.0)
    assert paired_bootstrap(a, b, seed=1) == paired_bootstrap(a, b, seed=1)
    assert paired_bootstrap(a, b, seed=1) != paired_bootstrap(a, b, seed=2)
    diff = paired_bootstrap([1.0, None, 3.0], [0.0, 5.0, None], seed=1)
    assert diff is not None and diff.n == 1 and diff.mean == 1.0
    assert paired_bootstrap([None], [1.0], seed=1) is None
    with pytest.raises(ValueError, match="same length"):
        paired_bootstrap([1.0], [1.0, 2.0], seed=1)


def test_large_sets_are_resampled_in_chunks_with_the_same_answer() -> None:
    a, b = noisy(5, 3000, shift=1.0)  # 3000 cases: the 2000 resamples come in 7 chunks
    diff = paired_bootstrap(a, b, seed=9)
    assert diff is not None and diff == paired_bootstrap(a, b, seed=9)
    assert diff.significant and diff.low < 1.0 + 0.5 and diff.high > 1.0 - 0.5
    assert 0.15 < diff.high - diff.low < 0.5  # ~2 x 1.96 x 4.24 / sqrt(3000) = 0.30
