"""Ctrl-C on `make run` stops the gateway without make reporting "Error 130" (issue 18): the
terminal sends SIGINT to the whole foreground group; ai-bot exits 130 (interrupted) and the
recipe's trap keeps make from calling that a failed command. A stand-in for ai-bot that exits
130 on SIGINT, as the real one does, keeps the test quick."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.support.deploy_tools import REPO, require_tool

STAND_IN = "#!/bin/sh\ntrap 'exit 130' INT\necho started\nwhile :; do sleep 0.1; done\n"


def test_ctrl_c_on_make_run_is_not_an_error(tmp_path: Path) -> None:
    make = require_tool("make", "make")
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    # the stamp `make run` looks for: its runtime install is done
    stamp = (
        subprocess.run(
            ["cksum"],
            input=(tmp_path / "pyproject.toml").read_bytes(),
            capture_output=True,
            check=True,
        )
        .stdout.split()[0]
        .decode()
    )
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / f".runtime-{stamp}").touch()
    stand_in = tmp_path / ".venv" / "bin" / "ai-bot"
    stand_in.write_text(STAND_IN)
    stand_in.chmod(0o755)
    log = tmp_path / "make.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [make, "run"],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while b"started" not in log.read_bytes():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does to the foreground group
        process.wait(timeout=60)
    assert "Error 130" not in log.read_text(), log.read_text()
