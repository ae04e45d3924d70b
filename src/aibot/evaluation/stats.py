"""Paired bootstrap: is model A's lead over model B on a metric larger than noise?

Both models answered the same cases, so the cases are resampled together (paired): the
interval is for the mean per-case difference, which cancels out how hard each case is and
needs far fewer cases than comparing two unpaired means. The seed makes a report reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
_CHUNK = 1_000_000


@dataclass(frozen=True, slots=True)
class Difference:
    """Mean of (a - b) over the cases both have a value for, with its bootstrap interval."""

    mean: float
    low: float
    high: float
    n: int

    @property
    def significant(self) -> bool:
        """The interval excludes 0: the sign of the difference is not an accident of sampling."""
        return self.low > 0 or self.high < 0


def paired_bootstrap(
    a: Sequence[float | None],
    b: Sequence[float | None],
    *,
    seed: int,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Difference | None:
    """None when no case has a value for both (e.g. both models failed every call)."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if not pairs:
        return None
    diffs = np.array([x - y for x, y in pairs], dtype=float)
    rng = np.random.default_rng(seed)
    # Resampled in chunks of about a million indexes: a 50,000-case set stays in ~10 MB.
    rows = max(1, _CHUNK // len(diffs))
    means = np.concatenate(
        [
            diffs[
                rng.integers(0, len(diffs), size=(min(rows, resamples - start), len(diffs)))
            ].mean(axis=1)
            for start in range(0, resamples, rows)
        ]
    )
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Difference(float(diffs.mean()), float(low), float(high), len(diffs))
