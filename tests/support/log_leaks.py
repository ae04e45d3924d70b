"""Checks the logs of every gateway a test run started for the secrets their configs held.

Each gateway records its working directory with its secrets when it starts; at the end of the
session (the root conftest's check) every log file there (the subprocess's stdout/stderr in
`gateway.log`, and any `logging.file` with its rotated copies) is searched for them. One leak
anywhere fails the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aibot.config import Config, interpolate

# The masker leaves shorter values alone (they are too likely to be ordinary words), so they are
# not checked either.
MIN_SECRET_LENGTH = 6


@dataclass(frozen=True, slots=True)
class GatewayRun:
    workdir: Path
    secrets: frozenset[str]


def configured_secrets(
    config: Mapping[str, Any], env: Mapping[str, str], always: Iterable[str]
) -> frozenset[str]:
    """What the gateway itself considers secret (`Config.secrets`), plus `always`: the test
    suite's fixed keys, which stand in when a test starts a gateway with a config that does not
    validate."""
    values = set(always)
    with contextlib.suppress(ValidationError):
        values.update(Config.model_validate(interpolate(dict(config), env, [])).secrets())
    return frozenset(v for v in values if len(v) >= MIN_SECRET_LENGTH)


def log_files(workdir: Path) -> list[Path]:
    return sorted(p for p in workdir.rglob("*.log*") if p.is_file())


def find_leaks(runs: Iterable[GatewayRun]) -> list[str]:
    """One line per secret found in a log file: which file, and the secret's first characters."""
    leaks = []
    for run in runs:
        for path in log_files(run.workdir):
            text = path.read_text(encoding="utf-8", errors="replace")
            leaks += [
                f"{path}: {secret[:3]}… ({len(secret)} characters)"
                for secret in sorted(run.secrets)
                if secret in text
            ]
    return leaks


# Every gateway this test process started, with its config's secrets, for the final check. Each
# xdist worker is its own process and checks the gateways it ran.
_RUNS: list[GatewayRun] = []


def record_gateway_run(run: GatewayRun) -> None:
    _RUNS.append(run)


def leaks_in_recorded_runs() -> list[str]:
    return find_leaks(_RUNS)
