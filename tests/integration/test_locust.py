"""bench/locustfile.py cannot rot: `bench/locust_run.py` runs it headless for a few seconds
against a gateway on the fake model, and every user class — REST, /v1 plain and streamed, the
page's socket, the webhook channel — gets answers without a failure."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NAMES = {
    "REST chat",
    "/v1 completion",
    "/v1 completion (stream)",
    "page message",
    "webhook message",
}


@pytest.mark.timeout(240)
def test_the_locustfile_runs_every_user_without_failures(tmp_path: Path) -> None:
    prefix = tmp_path / "locust"
    load = ["--users", "10", "--spawn-rate", "10", "--duration", "10s", "--think", "0.1,0.3"]
    run = subprocess.run(
        [sys.executable, "bench/locust_run.py", *load, "--csv", str(prefix)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Aggregated" in run.stdout + run.stderr  # the table is printed
    with (tmp_path / "locust_stats.csv").open(encoding="utf-8") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    assert set(rows) >= NAMES, sorted(rows)
    for name in NAMES:
        assert int(rows[name]["Request Count"]) > 0, name
        assert int(rows[name]["Failure Count"]) == 0, name
