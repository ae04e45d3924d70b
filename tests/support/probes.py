"""Scripts run in a fresh interpreter, as `ai-bot` runs: what a start imports, builds and
collects can only be seen from a process that has imported nothing yet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.gateway import gateway_env
from tests.support.net import free_port


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


# `ai-bot run` in the probe's own interpreter: `setup` first, then the command, and once /healthz
# answers a thread runs `report` (one statement that prints) and stops the server with SIGTERM.
SERVING = """
import os, signal, sys, threading, time, urllib.request
{setup}

def stop_when_healthy(url):
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.1)
    {report}
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGTERM)

threading.Thread(target=stop_when_healthy, args=(sys.argv[2],), daemon=True).start()
sys.argv = ["ai-bot", "run", "-c", sys.argv[1]]
from aibot.cli.main import main
main()
"""


def serve_once(workdir: Path, setup: str, report: str) -> str:
    """The line `report` printed from a gateway `ai-bot run` started in a fresh interpreter on
    a config of its own (loopback, SQLite in `workdir`), once it answered /healthz."""
    port = free_port()
    config = {
        "server": {"host": "127.0.0.1", "port": port},
        "storage": {"url": f"sqlite:///{workdir / 'ai-bot.db'}"},
        "logging": {"level": "warning"},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    script = SERVING.format(setup=setup, report=report)
    result = probe(script, workdir, "config.yaml", f"http://127.0.0.1:{port}/healthz")
    return result.stdout.strip().splitlines()[-1]
