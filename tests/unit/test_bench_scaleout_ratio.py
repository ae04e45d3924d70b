"""`bench/run.py --replicas N --reference`: the scale-out ratio of issue 20 is printed by the
report, from the reference process and the replicas measured in the same blocks."""

from __future__ import annotations

import pytest
from bench.measure import Figures, PathFigures
from bench.report import scale_out_ratio
from bench.run import parse_args


def path(name: str, cpu: float, busy: float) -> PathFigures:
    return PathFigures(
        name=name,
        messages_per_s=100.0,
        hello_per_s=1000.0,
        fraction_of_hello=0.1,
        cpu_ms_per_message=cpu,
        busy_cpu_ms_per_message=busy,
        hello_cpu_ms_per_message=0.05,
        p50_ms=10.0,
        p99_ms=20.0,
        hello_p99_ms=5.0,
        added_p99_ms=15.0,
        errors=0,
        error_kinds={},
        max_cpu_ms=None,
        min_fraction=None,
    )


def figures(
    reference: list[PathFigures] | None,
    independent: list[PathFigures] | None = None,
    *,
    affinity: bool = False,
) -> Figures:
    return Figures(
        concurrency=50,
        messages=1000,
        conversations=500,
        cpu_count=2,
        replicas=2,
        affinity=affinity,
        paths=[path("new", 1.0, 0.9), path("reused", 0.8, 0.8)],
        fake_p50_ms=1.0,
        fake_p99_ms=5.0,
        paced_path="new",
        paced_rate=250.0,
        paced_p99_ms=None,
        paced_fake_p99_ms=None,
        paced_added_p50_ms=None,
        paced_added_p99_ms=None,
        idle_rss_mb=80.0,
        loaded_rss_mb=90.0,
        cold_start_s=1.0,
        gc=None,
        reference=reference,
        independent=independent,
    )


def test_the_ratio_is_one_process_cpu_over_all_replicas_cpu_per_path() -> None:
    lines = scale_out_ratio(figures([path("new", 0.6, 0.45), path("reused", 0.6, 0.6)]))
    assert len(lines) == 2
    assert lines[0].startswith("new: one process ÷ 2 replicas, CPU ms/msg 0.600 × ")
    assert "✗" in lines[0] and "busy 0.500 ×" in lines[0]
    assert lines[1].startswith("reused: one process ÷ 2 replicas, CPU ms/msg 0.750 × ")
    assert "✓" in lines[1]


def test_no_reference_no_ratio() -> None:
    assert scale_out_ratio(figures(None)) == []


def test_independent_processes_split_the_gap_into_the_box_and_scale_out() -> None:
    """`--independent`: one process ÷ as many independent processes as replicas is what
    sharing the box costs; those ÷ the replicas is what scale-out mode adds."""
    lines = scale_out_ratio(
        figures(
            [path("new", 0.6, 0.45), path("reused", 0.6, 0.6)],
            [path("new", 0.75, 0.6), path("reused", 0.64, 0.6)],
        )
    )
    assert len(lines) == 4
    assert lines[2] == (
        "new: one process ÷ 2 independent processes 0.800 × (sharing the box); "
        "2 independent ÷ 2 replicas 0.750 × (what scale-out mode adds)"
    )
    assert lines[3].startswith("reused: one process ÷ 2 independent processes 0.938 × ")
    assert lines[3].endswith("2 independent ÷ 2 replicas 0.800 × (what scale-out mode adds)")


def test_a_ratio_measured_with_affinity_says_so() -> None:
    """`--affinity` (each conversation on one replica, as behind a hashing balancer) gives
    a different ratio from message-by-message balancing; the line must not pass for it."""
    one = [path("new", 0.6, 0.45)]
    assert "each conversation on one" not in scale_out_ratio(figures(one))[0]
    line = scale_out_ratio(figures(one, affinity=True))[0]
    assert line.startswith("new: one process ÷ 2 replicas (each conversation on one), CPU ms/msg")


@pytest.mark.parametrize("replicas", ["0", "1"])
def test_affinity_needs_two_replicas(replicas: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--fresh-postgres", "--replicas", replicas, "--affinity"])
    assert "--affinity needs --replicas 2 or more" in capsys.readouterr().err
