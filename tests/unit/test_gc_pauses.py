"""The benchmarks' GC pause figures (`bench/gc_probe.py`): what a run without any collection
while serving reports, and which messages count as having met a pause.

Why: a run with no collection used to print an empty p99.9 marked as a missed target, and the
p99.9 over a handful of collections says nothing about how much of the traffic saw one; these
check the figures from a probe file written by hand, so no timing is involved.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.gc_probe import GcPauses
from bench.run import gc_pause_row


def probe_file(tmp_path: Path, serving: list[list[float]]) -> GcPauses:
    path = tmp_path / "gc.json"
    path.write_text(json.dumps({"start_up": 7, "serving": serving}))
    pauses = GcPauses.read(path)
    assert pauses is not None
    return pauses


def test_no_collection_while_serving_is_said_so_not_a_zero_or_a_miss(tmp_path: Path) -> None:
    pauses = probe_file(tmp_path, [])
    pauses.count_met([1.0, 2.0], [0.5, 0.5])
    assert pauses.serving_collections == 0
    assert pauses.p999_ms is None and pauses.max_ms is None
    assert (pauses.messages, pauses.messages_met) == (2, 0)
    assert "no collection while serving (7 during start-up)" in pauses.summary()
    assert gc_pause_row(pauses) == ("no collection while serving", "≤ 5", "")


def test_a_message_met_a_pause_only_when_in_flight_while_it_ran(tmp_path: Path) -> None:
    # Collections (generation, start, wall, CPU) at 10.0–10.1 s (gen 0) and 20.0–20.5 s (gen 2).
    pauses = probe_file(tmp_path, [[0, 10.0, 0.1, 0.05], [2, 20.0, 0.5, 0.2]])
    starts = [9.0, 9.95, 10.05, 10.1, 15.0, 19.0, 20.4, 20.6]
    latencies = [0.5, 0.1, 0.01, 1.0, 4.0, 2.0, 0.01, 0.1]
    # 9.0–9.5 before; 9.95–10.05 overlaps; 10.05–10.06 inside; 10.1– starts as it ends;
    # 15–19 between; 19–21 spans the second; 20.4–20.41 inside; 20.6–20.7 after.
    pauses.count_met(starts, latencies)
    assert (pauses.messages, pauses.messages_met) == (8, 4)
    assert pauses.collections == {"0": 1, "1": 0, "2": 1}
    assert pauses.max_ms == 500 and pauses.max_ms_by_generation == {"0": 100, "2": 500}
    assert "4 of 8 (50.000%)" in pauses.summary()
    value, _, mark = gc_pause_row(pauses)
    assert value == "500.0" and "✗" in mark
