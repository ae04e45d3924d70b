"""The console dashboard's history: messages, errors, latency p50/p99, tokens and the 👍 share
in time buckets over the last hour, day or week, per channel and per provider.

Every figure is counted by the database in two grouped queries, over `message_log` (one row
per handled message, `ChatService` writes it) and over `ratings`, so a week of traffic comes
back as at most a few thousand rows whatever its volume; the buckets that are over are kept
(`SeriesReader`), so a later read counts only the newest. Latency quantiles come from a
histogram (a count per latency class and bucket, the classes `LATENCY_BOUNDS`) interpolated as
Prometheus' `histogram_quantile` does: no database needs a percentile function.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from aibot.store.database import Database
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
SETTLE = 120.0  # seconds after its end before a bucket's rows are taken as final
PerName = dict[str, list[int]]


class bucket_of(FunctionElement[int]):
    """floor(time / step): the bucket's number since the epoch, so a bucket keeps its number
    from one read to the next. SQLite has no FLOOR unless built with its math functions; there
    a cast truncates, the same for positive times. PostgreSQL and MySQL round in a cast."""

    inherit_cache = True


def _quotient(element: bucket_of, compiler: Any, **kw: Any) -> str:
    value, step = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"{value} / {step}"


@compiles(bucket_of)
def _floor(element: bucket_of, compiler: Any, **kw: Any) -> str:
    return f"FLOOR({_quotient(element, compiler, **kw)})"


@compiles(bucket_of, "sqlite")
def _truncate(element: bucket_of, compiler: Any, **kw: Any) -> str:
    return f"CAST({_quotient(element, compiler, **kw)} AS INTEGER)"


def latency_class(seconds: ColumnElement[float]) -> ColumnElement[int]:
    """The index of the first bound at or above `seconds` (len(bounds): slower than all)."""
    return case(
        *(
            (seconds <= _number(bound), literal_column(str(index)))
            for index, bound in enumerate(LATENCY_BOUNDS)
        ),
        else_=literal_column(str(len(LATENCY_BOUNDS))),
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


class SeriesReader:
    """Reads the series of a window. The message rows of a bucket that ended more than
    `SETTLE` seconds ago cannot change any more (rows are written as messages are handled, by
    every replica within moments), so they are kept per window and a refresh, or the next page
    load, asks the database only for the newest buckets. The 👍 votes are read whole each time:
    a vote changed later moves to the bucket of its change, and they are few."""

    def __init__(self, engine: Database) -> None:
        self._engine = engine
        self._settled: dict[str, dict[int, list[Any]]] = {}

    async def read(self, window: Window, now: float) -> Series:
        """The window's buckets ending with the one that holds `now`, aligned to its step."""
        first = int(now // window.step) - window.points + 1
        done = int((now - SETTLE) // window.step)  # the buckets before it are over
        settled = self._settled.setdefault(window.name, {})
        if settled and (min(settled) > first or max(settled) >= done):
            settled.clear()  # the clock went back: what is kept no longer lines up
        for gone in [bucket for bucket in settled if bucket < first]:
            del settled[gone]
        start = max(settled) + 1 if settled else first
        async with self._engine.connect() as connection:
            fresh = (await connection.execute(_logged(window.step, start))).all()
            rated = (await connection.execute(_rated(window.step, first))).all()
        by_bucket: dict[int, list[Any]] = defaultdict(list)
        for row in fresh:
            by_bucket[int(row[0])].append(row)
        for bucket in range(start, done):
            settled[bucket] = by_bucket.get(bucket, [])
        rows = [row for bucket in sorted(settled) for row in settled[bucket]]
        rows += [row for bucket, found in by_bucket.items() if bucket >= done for row in found]
        return _assemble(window, first, rows, rated)


def _number(value: float) -> ColumnElement[float]:
    """A number written into the statement, not a parameter: PostgreSQL only takes the
    SELECT's bucket for the GROUP BY's when both read the same text (two placeholders never
    do), and plans a prepared statement's range generically, as a scan of the whole table."""
    return literal_column(repr(float(value)))


def _logged(step: int, start: int) -> Select[Any]:
    """Per bucket, channel, provider, outcome and latency class: messages and tokens."""
    bucket = bucket_of(message_log.c.at, _number(step)).label("bucket")
    latency = latency_class(message_log.c.seconds).label("class")
    keys = (bucket, message_log.c.channel, message_log.c.provider, message_log.c.failed, latency)
    return (
        select(*keys, func.count(), func.sum(message_log.c.tokens))
        .where(message_log.c.at >= _number(start * step))
        .group_by(*keys)
    )


def _rated(step: int, start: int) -> Select[Any]:
    bucket = bucket_of(ratings.c.updated_at, _number(step)).label("bucket")
    return (
        select(
            bucket,
            ratings.c.provider,
            func.count(),
            func.sum(case((ratings.c.score > 0, 1), else_=0)),
        )
        .where(ratings.c.updated_at >= _number(start * step))
        .group_by(bucket, ratings.c.provider)
    )


Slot = Callable[[Any], int | None]


def _assemble(window: Window, first: int, rows: list[Any], rated: Any) -> Series:
    points = window.points

    def slot(value: Any) -> int | None:
        index = int(value) - first
        return index if 0 <= index < points else None  # a row from the future: a clock step

    messages, errors, tokens, classes = _tally(rows, points, slot)
    return Series(
        window.name,
        window.step,
        [float((first + i) * window.step) for i in range(points)],
        messages,
        errors,
        tokens,
        [quantile(c, 0.5) for c in classes],
        [quantile(c, 0.99) for c in classes],
        _shares(rated, points, slot),
    )


def _tally(
    rows: list[Any], points: int, slot: Slot
) -> tuple[PerName, PerName, PerName, list[list[int]]]:
    """Messages and errors per channel, tokens per provider, answer-time histograms."""
    messages: PerName = defaultdict(lambda: [0] * points)
    errors: PerName = defaultdict(lambda: [0] * points)
    tokens: PerName = defaultdict(lambda: [0] * points)
    classes = [[0] * (len(LATENCY_BOUNDS) + 1) for _ in range(points)]
    for bucket, channel, provider, failed, latency, count, used in rows:
        if (at := slot(bucket)) is None:
            continue
        messages[channel][at] += int(count)
        if failed:
            errors[channel][at] += int(count)
        else:
            classes[at][int(latency)] += int(count)  # a failure has no answer time
        if provider is not None:
            tokens[provider][at] += int(used or 0)
    return (
        dict(sorted(messages.items())),
        {name: errors[name] for name in sorted(messages)},
        dict(sorted(tokens.items())),
        classes,
    )


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
