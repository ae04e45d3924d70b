"""The soak's figures and its verdict: RSS plateau and end, exactly-once answers, per-channel
latency and errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.gc_probe import GcPauses
from bench.load import Run, percentile_ms
from bench.processes import (
    BenchError,
    rss_mb,
)
from bench.soak_traffic import PLATEAU_WINDOW, RSS_TOLERANCE
from rich.status import Status

# --------------------------------------------------------------------------- figures & verdict


@dataclass
class ChannelFigures:
    name: str
    answered: int
    errors: int
    messages_per_s: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass
class ExactlyOnce:
    """For an asynchronous channel: messages accepted, and answers missing / extra / stray."""

    name: str
    sent: int
    missing: int
    doubled: int
    stray: int

    @property
    def ok(self) -> bool:
        return self.sent > 0 and self.missing == self.doubled == self.stray == 0


@dataclass
class Figures:
    """Everything the report shows; ``--json`` writes exactly this."""

    messages: int
    concurrency: int
    conversations: int
    max_turns: int
    storage: str
    redis: bool
    cpu_count: int | None
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    wall_s: float
    idle_rss_mb: float
    samples: list[tuple[float, float, int]]  # (seconds into the load, RSS MB, messages done)
    channels: list[ChannelFigures]
    total: ChannelFigures
    error_kinds: list[tuple[str, str, int]]  # (channel, kind, count)
    exactly_once: list[ExactlyOnce]
    gateway_cpu_s: float
    checks: list[tuple[str, str, bool]] = field(default_factory=list)
    gc: GcPauses | None = None  # read once the gateway has stopped (bench/gc_probe.py)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(ok for _, _, ok in self.checks)


def plateau_mb(samples: list[tuple[float, float, int]], wall: float) -> float:
    """The median RSS of the samples taken 20–40 % into the load: by then imports, pools and
    caches have grown, and a leak still has most of the run to show itself. With no sample in
    that window (a very short run), the sample nearest to 30 %."""
    low, high = (wall * f for f in PLATEAU_WINDOW)
    window = [rss for t, rss, _ in samples if low <= t <= high]
    if window:
        return statistics.median(window)
    middle = wall * sum(PLATEAU_WINDOW) / 2
    return min(samples, key=lambda s: abs(s[0] - middle))[1]


def judge(figures: Figures) -> list[tuple[str, str, bool]]:
    """The soak's verdict, as (check, detail, passed) rows."""
    plateau, end = plateau_mb(figures.samples, figures.wall_s), figures.samples[-1][1]
    growth = end / plateau - 1
    checks = [
        (
            f"RSS at the end ≤ plateau + {RSS_TOLERANCE:.0%}",
            f"idle {figures.idle_rss_mb:,.1f} → plateau {plateau:,.1f} → end {end:,.1f} MB "
            f"({growth:+.1%})",
            growth <= RSS_TOLERANCE,
        )
    ]
    for once in figures.exactly_once:
        checks.append(
            (
                f"{once.name}: every message answered exactly once",
                f"{once.sent:,} sent, {once.missing} unanswered, {once.doubled} extra, "
                f"{once.stray} stray",
                once.ok,
            )
        )
    checks.append(
        ("no errors on any channel", f"{figures.total.errors:,} errors", figures.total.errors == 0)
    )
    return checks


def filling_note(f: Figures) -> str | None:
    """A warning when the conversations' memory cannot be full by the plateau window.

    Each conversation remembers ``max_turns`` exchanges, so the gateway's memory grows, by
    design, until about conversations × max_turns messages have been sent; a plateau taken
    before that reads bounded filling as a leak.
    """
    to_fill, before = f.conversations * f.max_turns, f.messages * PLATEAU_WINDOW[0]
    if to_fill <= before:
        return None
    return (
        f"{f.conversations:,} conversations × {f.max_turns} turns = {to_fill:,} messages "
        f"fill the conversations' memory, more than the {before:,.0f} sent before the "
        "plateau window: memory still filling then reads as growth"
    )


def channel_figures(name: str, run: Run, wall: float) -> ChannelFigures:
    return ChannelFigures(
        name=name,
        answered=len(run.latencies),
        errors=run.errors,
        messages_per_s=len(run.latencies) / wall if wall else 0.0,
        p50_ms=percentile_ms(run.latencies, 50),
        p90_ms=percentile_ms(run.latencies, 90),
        p99_ms=percentile_ms(run.latencies, 99),
        max_ms=percentile_ms(run.latencies, 100),
    )


async def sample_rss(
    pid: int,
    every: float,
    start: float,
    done: Callable[[], int],
    samples: list[tuple[float, float, int]],
    status: Status | None,
    total: int,
) -> None:
    """Record the gateway's RSS every ``every`` seconds until cancelled (or the process ends)."""
    with contextlib.suppress(BenchError, FileNotFoundError, ProcessLookupError):
        while True:
            rss = rss_mb(pid)
            samples.append((time.perf_counter() - start, rss, done()))
            if status is not None:
                status.update(f"soaking… {done():,}/{total:,} messages, gateway RSS {rss:,.1f} MB")
            await asyncio.sleep(every)
