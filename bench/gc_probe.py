"""Runs `ai-bot` with every garbage collection timed, for the benchmarks' GC pause figures.

    <venv>/bin/python bench/gc_probe.py <pauses.json> run -c config.yaml

is `ai-bot run -c config.yaml` with a `gc.callbacks` hook that records how long each
collection held the interpreter, from its "start" to its "stop" callback (so the hook's own
work is not counted): wall time, which is what a waiting request sees, and the thread's CPU
time, which is what the collection itself cost — on a shared machine the wall time also holds
whatever time the scheduler gave other processes meanwhile. Collections before the gateway
froze its start-up heap (`ops/gc_tuning.py`, once it is ready to serve) belong to the start and
are only counted. When the process exits (SIGTERM included: `ai-bot run` turns it into a clean
exit) everything is written to `pauses.json`. It is started with the Python beside the `ai-bot`
under test, so any build can be measured; nothing in the gateway knows about it.

Each collection is stamped with `time.perf_counter()` at its start: on Linux that is the
machine's monotonic clock, the one the benchmark's own client reads, so the bench can tell which
of its messages were waiting while a collection held the gateway (`GcPauses.count_met`).

With `AIBOT_BENCH_GC_THRESHOLD=N` in its environment the gateway serves with a young-generation
threshold of N instead of `ops/gc_tuning.YOUNG_THRESHOLD`, so one build can be measured at
several settings; the thresholds it served with are written with the pauses.
"""

from __future__ import annotations

import atexit
import gc
import json
import math
import os
import sys
import time
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# [generation, start (perf_counter), wall seconds, CPU seconds, objects freed] of each
# collection after the start-up freeze, in the order they ran
_serving: list[list[float]] = []
_start_up = [0]  # collections before it
_began = [0.0, 0.0]
# Whether the start-up heap is frozen yet: `gc.get_freeze_count()` walks the frozen objects to
# count them (~190,000 once serving, about a millisecond), so it is asked only until then
_frozen = [False]
# Collections needed before the nearest-rank p99.9 is not simply the longest one
REAL_P999 = 1000


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _began[:] = time.perf_counter(), time.thread_time()
        return
    wall, cpu = time.perf_counter() - _began[0], time.thread_time() - _began[1]
    _frozen[0] = _frozen[0] or gc.get_freeze_count() > 0
    if _frozen[0]:
        _serving.append([info["generation"], _began[0], wall, cpu, info["collected"]])
    else:
        _start_up[0] += 1


def _write(path: Path) -> None:
    data = {"start_up": _start_up[0], "serving": _serving, "threshold": gc.get_threshold()}
    path.write_text(json.dumps(data))


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = ["ai-bot", *sys.argv[2:]]
    del sys.path[0]  # this script's directory: bench/run.py must not shadow anything
    gc.callbacks.append(_timed)
    atexit.register(_write, out)
    threshold = os.environ.get("AIBOT_BENCH_GC_THRESHOLD")
    if threshold:
        from aibot.ops import gc_tuning

        gc_tuning.YOUNG_THRESHOLD = int(threshold)
    from aibot.cli.main import main as ai_bot

    ai_bot()


def nearest_rank_ms(ordered: list[float], pct: float) -> float | None:
    """In ms. The rank is rounded before its ceiling: 99.9 / 100 × 1,000 is a hair above 999 in
    floating point, which made the p99.9 of 1,000 collections their longest."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(round(pct * len(ordered) / 100, 6)) - 1)] * 1000


@dataclass
class GcPauses:
    """The collections of one serving gateway: how many of each generation and how long they
    held the interpreter (nearest-rank percentiles over the collections, in ms; None when there
    was no collection while serving: no pause, which is not a 0 ms one), and how many of the
    bench's messages were waiting on the gateway while one ran (`count_met`).

    The percentiles are over collections, not messages: below `REAL_P999` collections the
    nearest-rank p99.9 is the longest of them (`p999_is_max`), which the summary says. The
    share of messages that met a pause says how much of the traffic saw one at all, and the
    collections' CPU over the messages what the collector cost each message."""

    start_up_collections: int
    threshold: tuple[int, int, int] | None  # gc.get_threshold() at exit; None from older probes
    collections: dict[str, int]
    p50_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None
    cpu_p999_ms: float | None
    cpu_max_ms: float | None
    max_ms_by_generation: dict[str, float]
    cpu_max_ms_by_generation: dict[str, float]
    cpu_total_ms: float  # all collections while serving
    freed: int  # objects they freed: the garbage cycles only a collection frees
    spans: list[tuple[float, float]]  # (start, end) of each collection, perf_counter seconds
    messages: int = 0  # messages of the bench checked against the spans (count_met)
    messages_met: int = 0  # of them, those in flight while a collection ran

    @classmethod
    def read(cls, path: Path) -> GcPauses | None:
        """The figures from a probe's file; None when the gateway never wrote one."""
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        serving: list[list[float]] = data["serving"]
        walls = sorted(c[2] for c in serving)
        cpus = sorted(c[3] for c in serving)
        longest: dict[str, float] = {}
        longest_cpu: dict[str, float] = {}
        for generation, _, wall, cpu, *_ in serving:
            g = str(int(generation))
            longest[g] = max(longest.get(g, 0.0), wall * 1000)
            longest_cpu[g] = max(longest_cpu.get(g, 0.0), cpu * 1000)
        threshold = data.get("threshold")
        return cls(
            start_up_collections=data["start_up"],
            threshold=None if threshold is None else (threshold[0], threshold[1], threshold[2]),
            collections={g: sum(1 for c in serving if c[0] == int(g)) for g in ("0", "1", "2")},
            p50_ms=nearest_rank_ms(walls, 50),
            p99_ms=nearest_rank_ms(walls, 99),
            p999_ms=nearest_rank_ms(walls, 99.9),
            max_ms=nearest_rank_ms(walls, 100),
            cpu_p999_ms=nearest_rank_ms(cpus, 99.9),
            cpu_max_ms=nearest_rank_ms(cpus, 100),
            max_ms_by_generation=longest,
            cpu_max_ms_by_generation=longest_cpu,
            cpu_total_ms=sum(cpus) * 1000,
            freed=int(sum(c[4] for c in serving if len(c) > 4)),
            spans=sorted((c[1], c[1] + c[2]) for c in serving),
        )

    @property
    def serving_collections(self) -> int:
        return sum(self.collections.values())

    def count_met(self, starts: Sequence[float], latencies: Sequence[float]) -> None:
        """Counts the messages (sent at ``starts``, answered ``latencies`` later, perf_counter
        seconds) that were in flight while a collection ran: those a pause could have delayed.
        Collections never overlap, so the last one that started before a message's answer is
        the only one that can still have been running after the message was sent."""
        begins = [start for start, _ in self.spans]
        met = 0
        for sent, latency in zip(starts, latencies, strict=True):
            i = bisect_right(begins, sent + latency) - 1
            met += i >= 0 and self.spans[i][1] > sent
        self.messages += len(latencies)
        self.messages_met += met

    @property
    def p999_is_max(self) -> bool:
        """Too few collections for a p99.9 of its own: the figure is the longest pause."""
        return self.serving_collections < REAL_P999

    @property
    def cpu_us_per_message(self) -> float | None:
        """The collections' CPU spread over the measured messages (µs), once counted."""
        return self.cpu_total_ms * 1000 / self.messages if self.messages else None

    @property
    def met_share(self) -> float | None:
        return self.messages_met / self.messages if self.messages else None

    def met_text(self) -> str:
        """How many of the measured messages met a pause, for a report's table."""
        share = self.met_share
        if share is None:
            return "–"
        return f"{self.messages_met:,} of {self.messages:,} ({share:.3%})"

    def summary(self) -> str:
        setting = "" if self.threshold is None else f"threshold {self.threshold[0]:,}: "
        if not self.serving_collections:
            return (
                f"{setting}no collection while serving ({self.start_up_collections} during "
                "start-up): no pause to measure"
            )

        def ms(value: float | None) -> str:
            return "–" if value is None else f"{value:.1f}"

        counts = " / ".join(f"{self.collections.get(g, 0):,}" for g in ("0", "1", "2"))
        worst = " / ".join(ms(self.max_ms_by_generation.get(g)) for g in ("0", "1", "2"))
        worst_cpu = " / ".join(ms(self.cpu_max_ms_by_generation.get(g)) for g in ("0", "1", "2"))
        p999 = f" (p99.9 is the max: fewer than {REAL_P999:,})" if self.p999_is_max else ""
        per_message = self.cpu_us_per_message
        cost = "" if per_message is None else f", {per_message:.2f} µs per measured message"
        return (
            f"{setting}{counts} collections while serving (gen 0 / 1 / 2){p999}, longest "
            f"{worst} ms wall, {worst_cpu} ms CPU; pause p50 / p99 / p99.9 / max over "
            f"collections {ms(self.p50_ms)} / {ms(self.p99_ms)} / {ms(self.p999_ms)} / "
            f"{ms(self.max_ms)} ms wall, p99.9 / max {ms(self.cpu_p999_ms)} / "
            f"{ms(self.cpu_max_ms)} ms CPU; collections' CPU {self.cpu_total_ms:.1f} ms{cost}, "
            f"{self.freed:,} objects freed; messages that met a pause: {self.met_text()}; "
            f"{self.start_up_collections} during start-up"
        )


if __name__ == "__main__":
    main()
