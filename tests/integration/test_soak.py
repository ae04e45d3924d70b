"""The soak harness (`bench/soak.py`): a short real run passes, and its verdict can fail.

Why: the full soak takes minutes and is run by hand, so without a test it would rot silently;
and a verdict that cannot fail proves nothing, so the checks are also fed a leak and a lost
answer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
from bench.soak_figures import ChannelFigures, ExactlyOnce, Figures, judge
from bench.soak_traffic import SHARES

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_short_soak_passes_over_every_channel(tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    done = subprocess.run(
        [
            sys.executable,
            "bench/soak.py",
            "--messages",
            "2000",
            "--sample-every",
            "0.25",
            "--json",
            str(out),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "PASS" in done.stdout
    figures = orjson.loads(out.read_bytes())
    assert figures["passed"] is True
    answered = {c["name"]: c["answered"] for c in figures["channels"]}
    assert set(answered) == set(SHARES) and all(answered.values()), answered
    assert sum(answered.values()) == figures["total"]["answered"] == 2000
    assert {o["name"]: o["sent"] for o in figures["exactly_once"]} == {
        "webhook": answered["webhook"],
        "telegram": answered["telegram"],
    }
    assert len(figures["samples"]) >= 4 and figures["samples"][-1][2] == 2000
    assert figures["conversations"] * figures["max_turns"] <= 0.2 * 2000  # full by the plateau
    # Every answered message was checked against the gateway's GC pauses (bench/gc_probe.py).
    assert figures["gc"]["messages"] == 2000
    assert figures["gc"]["messages_met"] <= 2000


def figures(rss: list[float], *, missing: int = 0, errors: int = 0) -> Figures:
    """Synthetic figures: one RSS sample a second over a 10 s load, then the end sample."""
    total = ChannelFigures("all", 100, errors, 10.0, 1.0, 2.0, 3.0, 4.0)
    return Figures(
        messages=100,
        concurrency=5,
        conversations=10,
        max_turns=2,
        storage="sqlite",
        redis=False,
        cpu_count=2,
        load_before=(0.0, 0.0, 0.0),
        load_after=(0.0, 0.0, 0.0),
        wall_s=10.0,
        idle_rss_mb=rss[0],
        samples=[(float(t), mb, t * 10) for t, mb in enumerate(rss)],
        channels=[total],
        total=total,
        error_kinds=[],
        exactly_once=[ExactlyOnce("webhook", 50, missing, 0, 0)],
        gateway_cpu_s=1.0,
    )


def verdicts(f: Figures) -> list[bool]:
    return [ok for _, _, ok in judge(f)]


def test_verdict_passes_a_level_plateau() -> None:
    # Samples 2–4 s (20–40 % of 10 s) are the plateau: median 100; the end is 9 % above.
    assert verdicts(figures([80, 95, 99, 100, 101, 103, 104, 105, 106, 108, 109])) == [
        True,
        True,
        True,
    ]


def test_verdict_fails_a_leak_a_lost_answer_and_errors() -> None:
    # 11 % above the plateau
    leak: list[float] = [80, 95, 99, 100, 101, 103, 104, 106, 108, 110, 111]
    assert verdicts(figures(leak)) == [False, True, True]
    level = [100.0] * 11
    assert verdicts(figures(level, missing=1)) == [True, False, True]
    assert verdicts(figures(level, errors=1)) == [True, True, False]
