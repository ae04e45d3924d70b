"""The system tools the deploy tests check artefacts with (nginx, shellcheck, systemd-analyze).

CI installs them (.ci/run) and sets AIBOT_REQUIRE_DEPLOY_TOOLS=1, so there a missing tool fails
the test; elsewhere the test is skipped with the install command.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def find_tool(name: str) -> str | None:
    """On PATH, or in the sbin directories a non-root PATH may lack (nginx lives there)."""
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_tool(name: str, package: str) -> str:
    path = find_tool(name)
    if path is not None:
        return path
    message = f"{name} is not installed (apt-get install {package})"
    if os.environ.get("AIBOT_REQUIRE_DEPLOY_TOOLS") == "1":
        pytest.fail(message)
    pytest.skip(message)
