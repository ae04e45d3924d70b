"""The benchmarks' GC pause figures (`bench/gc_probe.py`): what a run without any collection
while serving reports, and which messages count as having met a pause.

Why: a run with no collection used to print an empty p99.9 marked as a missed target, and the
p99.9 over a handful of collections says nothing about how much of the traffic saw one; these
check the figures from a probe file written by hand, so no timing is involved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.gc_probe import GcPauses
from bench.load import percentile_ms
from bench.report import gc_pause_row


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
    assert value == "500.0 (the max of 2)" and "✗" in mark


def test_p999_is_said_to_be_the_max_until_there_are_enough_collections(tmp_path: Path) -> None:
    # 999 collections of 1 ms and one of 9 ms: nearest rank p99.9 is the 999th, the max the 9 ms.
    few = [[0, float(n), 0.001, 0.001, 0] for n in range(999)]
    pauses = probe_file(tmp_path, [*few, [1, 999.0, 0.009, 0.002, 0]])
    assert not pauses.p999_is_max
    assert (pauses.p999_ms, pauses.max_ms) == (1.0, 9.0)
    assert gc_pause_row(pauses)[0] == "1.0"
    pauses = probe_file(tmp_path, few)
    assert pauses.p999_is_max and "(p99.9 is the max: fewer than 1,000)" in pauses.summary()


def test_the_summary_says_the_setting_what_was_freed_and_the_cpu_per_message(
    tmp_path: Path,
) -> None:
    path = tmp_path / "gc.json"
    serving = [[0, 10.0, 0.004, 0.002, 30], [0, 20.0, 0.006, 0.003, 12]]
    path.write_text(json.dumps({"start_up": 0, "serving": serving, "threshold": [5000, 10, 10]}))
    pauses = GcPauses.read(path)
    assert pauses is not None and pauses.threshold == (5000, 10, 10)
    pauses.count_met([1.0] * 100, [0.1] * 100)  # none in flight: 100 messages, 5 ms of CPU
    assert pauses.cpu_us_per_message == pytest.approx(50.0)
    summary = pauses.summary()
    assert summary.startswith("threshold 5,000: 2 / 0 / 0 collections")
    assert "collections' CPU 5.0 ms, 50.00 µs per measured message, 42 objects freed" in summary


def test_the_latency_p99_9_of_1000_answers_is_not_their_longest() -> None:
    """99.9 / 100 × 1,000 is a hair above 999 in floating point: rounded before the ceiling,
    the nearest rank is the 999th, as for the collections' pauses."""
    latencies = [n / 1000 for n in range(1, 1001)]
    assert percentile_ms(latencies, 99.9) == 999.0
    assert percentile_ms(latencies, 100) == 1000.0
    assert percentile_ms([], 99) is None
