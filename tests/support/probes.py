"""Scripts run in a fresh interpreter, as `ai-bot` runs: what a start imports, builds and
collects can only be seen from a process that has imported nothing yet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.gateway import gateway_env


def probe(script: str, workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`script` run in a fresh interpreter with `args`, as the gateway's tests run it; it must
    exit 0 (its stderr's end is the failure message otherwise)."""
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=workdir,
        env=gateway_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
