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
"""

from __future__ import annotations

import atexit
import gc
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# generation → [[wall seconds, CPU seconds], ...] of collections after the start-up freeze
_serving: dict[str, list[list[float]]] = {"0": [], "1": [], "2": []}
_start_up = [0]  # collections before it
_began = [0.0, 0.0]


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _began[:] = time.perf_counter(), time.thread_time()
        return
    wall, cpu = time.perf_counter() - _began[0], time.thread_time() - _began[1]
    if gc.get_freeze_count() == 0:
        _start_up[0] += 1
    else:
        _serving[str(info["generation"])].append([wall, cpu])


def _write(path: Path) -> None:
    path.write_text(json.dumps({"start_up": _start_up[0], "serving": _serving}))


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = ["ai-bot", *sys.argv[2:]]
    del sys.path[0]  # this script's directory: bench/run.py must not shadow anything
    gc.callbacks.append(_timed)
    atexit.register(_write, out)
    from aibot.cli.main import main as ai_bot

    ai_bot()


def _nearest_rank(ordered: list[float], pct: float) -> float | None:
    if not ordered:
        return None
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)] * 1000


@dataclass
class GcPauses:
    """The collections of one serving gateway: how many of each generation and how long they
    held the interpreter (nearest-rank percentiles over all of them, in ms)."""

    start_up_collections: int
    collections: dict[str, int]
    p50_ms: float | None
    p99_ms: float | None
    p999_ms: float | None
    max_ms: float | None
    cpu_p999_ms: float | None
    cpu_max_ms: float | None
    max_ms_by_generation: dict[str, float]

    @classmethod
    def read(cls, path: Path) -> GcPauses | None:
        """The figures from a probe's file; None when the gateway never wrote one."""
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        serving: dict[str, list[list[float]]] = data["serving"]
        walls = sorted(w for pauses in serving.values() for w, _ in pauses)
        cpus = sorted(c for pauses in serving.values() for _, c in pauses)
        return cls(
            start_up_collections=data["start_up"],
            collections={g: len(pauses) for g, pauses in serving.items()},
            p50_ms=_nearest_rank(walls, 50),
            p99_ms=_nearest_rank(walls, 99),
            p999_ms=_nearest_rank(walls, 99.9),
            max_ms=_nearest_rank(walls, 100),
            cpu_p999_ms=_nearest_rank(cpus, 99.9),
            cpu_max_ms=_nearest_rank(cpus, 100),
            max_ms_by_generation={
                g: max(w for w, _ in pauses) * 1000 for g, pauses in serving.items() if pauses
            },
        )

    def summary(self) -> str:
        def ms(value: float | None) -> str:
            return "–" if value is None else f"{value:.1f}"

        counts = " / ".join(f"{self.collections.get(g, 0):,}" for g in ("0", "1", "2"))
        worst = " / ".join(ms(self.max_ms_by_generation.get(g)) for g in ("0", "1", "2"))
        return (
            f"{counts} collections while serving (gen 0 / 1 / 2), longest {worst} ms; "
            f"pause p50 / p99 / p99.9 / max {ms(self.p50_ms)} / {ms(self.p99_ms)} / "
            f"{ms(self.p999_ms)} / {ms(self.max_ms)} ms wall, p99.9 / max "
            f"{ms(self.cpu_p999_ms)} / {ms(self.cpu_max_ms)} ms CPU; "
            f"{self.start_up_collections} during start-up"
        )


if __name__ == "__main__":
    main()
