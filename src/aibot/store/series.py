"""The console dashboard's history: messages, errors, latency p50/p99, tokens and the 👍 share
in time buckets over the last hour, day or week, per channel and per provider.

Every figure is counted by the database in a few grouped queries over `message_log` (one row
per handled message, `ChatService` writes it) and `ratings`, so a week of traffic comes back as
a few hundred rows whatever its volume. Latency quantiles come from a histogram (a count per
latency class and bucket, the classes `LATENCY_BOUNDS`) interpolated as Prometheus'
`histogram_quantile` does: no database needs a percentile function.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from aibot.store.schema import message_log, ratings


@dataclass(frozen=True)
class Window:
    """A range the dashboard shows: its name, how many buckets and how long each is."""

    name: str
    points: int
    step: int  # seconds


WINDOWS = {
    "1h": Window("1h", 60, 60),
    "24h": Window("24h", 96, 900),
    "7d": Window("7d", 84, 7200),
}
DEFAULT_WINDOW = "24h"

# Upper bounds (seconds) of the latency classes; the last class is everything slower.
LATENCY_BOUNDS = (
    *(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
    *(1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0, 120.0),
)
NO_PROVIDER = "-"
PerName = dict[str, list[int]]


class bucket_of(FunctionElement[int]):
    """floor((value - origin) / step), for values at or after origin. SQLite has no FLOOR
    unless built with its math functions; there a cast truncates, which is the same for the
    non-negative quotients asked of it. PostgreSQL and MySQL round in a cast, so FLOOR there."""

    inherit_cache = True


def _quotient(element: bucket_of, compiler: Any, **kw: Any) -> str:
    value, origin, step = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({value} - {origin}) / {step}"


@compiles(bucket_of)
def _floor(element: bucket_of, compiler: Any, **kw: Any) -> str:
    return f"FLOOR({_quotient(element, compiler, **kw)})"


@compiles(bucket_of, "sqlite")
def _truncate(element: bucket_of, compiler: Any, **kw: Any) -> str:
    return f"CAST({_quotient(element, compiler, **kw)} AS INTEGER)"


def latency_class(seconds: ColumnElement[float]) -> ColumnElement[int]:
    """The index of the first bound at or above `seconds` (len(bounds): slower than all)."""
    return case(
        *((seconds <= bound, index) for index, bound in enumerate(LATENCY_BOUNDS)),
        else_=len(LATENCY_BOUNDS),
    )


def quantile(counts: list[int], q: float) -> float | None:
    """The q-quantile of a latency histogram (a count per class), interpolated linearly
    inside its class; the open last class reads as its lower bound."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    seen, lower = 0, 0.0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            if index == len(LATENCY_BOUNDS):
                return lower
            upper = LATENCY_BOUNDS[index]
            return lower + (upper - lower) * (rank - seen) / count
        seen += count
        lower = LATENCY_BOUNDS[index] if index < len(LATENCY_BOUNDS) else lower
    return lower


@dataclass
class Series:
    """Bucket start times (UNIX seconds) and the values at each; a count is 0 where nothing
    happened, a latency or a share is None where there was nothing to measure."""

    window: str
    step: int
    times: list[float]
    messages: dict[str, list[int]]  # per channel
    errors: dict[str, list[int]]  # per channel
    tokens: dict[str, list[int]]  # per provider
    latency_p50: list[float | None]
    latency_p99: list[float | None]
    thumbs_up: dict[str, list[float | None]]  # 👍 share (0..1) per provider, and "" for all

    def as_json(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "step": self.step,
            "times": self.times,
            "messages": self.messages,
            "errors": self.errors,
            "tokens": self.tokens,
            "latency": {"p50": self.latency_p50, "p99": self.latency_p99},
            "thumbs_up": self.thumbs_up,
        }


async def dashboard_series(engine: AsyncEngine, window: Window, now: float) -> Series:
    """The window's buckets ending with the one that holds `now`, aligned to its step."""
    origin = (now // window.step - (window.points - 1)) * window.step
    # Inline numbers, not parameters: PostgreSQL only knows the SELECT's bucket is the GROUP
    # BY's when both read the same text, and two placeholders never do.
    step: ColumnElement[float] = literal_column(repr(float(window.step)))
    start: ColumnElement[float] = literal_column(repr(float(origin)))
    logged = bucket_of(message_log.c.at, start, step).label("bucket")
    recent = message_log.c.at >= origin
    counts = (
        select(
            logged,
            message_log.c.channel,
            message_log.c.provider,
            func.count(),
            func.sum(message_log.c.failed),
            func.sum(message_log.c.tokens),
        )
        .where(recent)
        .group_by(logged, message_log.c.channel, message_log.c.provider)
    )
    latency = latency_class(message_log.c.seconds).label("class")
    histogram = (
        select(logged, latency, func.count())
        .where(and_(recent, message_log.c.failed == 0))
        .group_by(logged, latency)
    )
    rated = bucket_of(ratings.c.updated_at, start, step).label("bucket")
    thumbs = (
        select(
            rated,
            ratings.c.provider,
            func.count(),
            func.sum(case((ratings.c.score > 0, 1), else_=0)),
        )
        .where(ratings.c.updated_at >= origin)
        .group_by(rated, ratings.c.provider)
    )
    async with engine.connect() as connection:
        count_rows = (await connection.execute(counts)).all()
        histogram_rows = (await connection.execute(histogram)).all()
        rating_rows = (await connection.execute(thumbs)).all()
    return _assemble(window, origin, count_rows, histogram_rows, rating_rows)


Slot = Callable[[Any], int | None]


def _assemble(
    window: Window, origin: float, count_rows: Any, histogram_rows: Any, rating_rows: Any
) -> Series:
    points = window.points

    def slot(value: Any) -> int | None:
        index = int(value)
        return index if 0 <= index < points else None  # a row from the future: a clock step

    messages, errors, tokens = _counts(count_rows, points, slot)
    classes = _histograms(histogram_rows, points, slot)
    return Series(
        window.name,
        window.step,
        [origin + i * window.step for i in range(points)],
        messages,
        errors,
        tokens,
        [quantile(c, 0.5) for c in classes],
        [quantile(c, 0.99) for c in classes],
        _shares(rating_rows, points, slot),
    )


def _counts(rows: Any, points: int, slot: Slot) -> tuple[PerName, PerName, PerName]:
    """Messages and errors per channel, tokens per provider."""
    messages: PerName = defaultdict(lambda: [0] * points)
    errors: PerName = defaultdict(lambda: [0] * points)
    tokens: PerName = defaultdict(lambda: [0] * points)
    for bucket, channel, provider, count, failed, used in rows:
        if (at := slot(bucket)) is None:
            continue
        messages[channel][at] += int(count)
        errors[channel][at] += int(failed or 0)
        if provider is not None:
            tokens[provider][at] += int(used or 0)
    return (
        dict(sorted(messages.items())),
        dict(sorted(errors.items())),
        dict(sorted(tokens.items())),
    )


def _histograms(rows: Any, points: int, slot: Slot) -> list[list[int]]:
    classes = [[0] * (len(LATENCY_BOUNDS) + 1) for _ in range(points)]
    for bucket, latency, count in rows:
        if (at := slot(bucket)) is not None:
            classes[at][int(latency)] += int(count)
    return classes


def _shares(rows: Any, points: int, slot: Slot) -> dict[str, list[float | None]]:
    """The 👍 share per provider and over all ("")."""
    tallies: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(points)])
    for bucket, provider, count, good in rows:
        if (at := slot(bucket)) is None:
            continue
        for name in ("", provider or NO_PROVIDER):
            tallies[name][at][0] += int(count)
            tallies[name][at][1] += int(good or 0)
    return {
        name: [good / total if total else None for total, good in buckets]
        for name, buckets in sorted(tallies.items())
    }
