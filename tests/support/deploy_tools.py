"""The system tools the deploy tests check artefacts with (nginx, shellcheck, systemd-analyze).

CI installs them (.ci/run) and sets AIBOT_REQUIRE_DEPLOY_TOOLS=1, so there a missing tool fails
the test; elsewhere the test is skipped with the install command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
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


def nginx_main_config(directory: Path, site: str, *, serve: bool = False) -> Path:
    """`site` (an `ai-bot deploy nginx` render) inside a minimal main config under a temporary
    prefix; with `serve`, nginx runs it in the foreground and logs no access."""
    (directory / "ai-bot.conf").write_text(site, encoding="utf-8")
    extra = "daemon off;\n" if serve else ""
    access = "    access_log off;\n" if serve else ""
    config = directory / "nginx.conf"
    config.write_text(
        f"pid {directory}/nginx.pid;\nerror_log {directory}/error.log;\n{extra}events {{}}\n"
        f"http {{\n{access}    include {directory}/ai-bot.conf;\n}}\n",
        encoding="utf-8",
    )
    return config


def nginx_test(directory: Path, site: str) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the site inside a minimal main config under a temporary prefix."""
    nginx = require_tool("nginx", "nginx")
    config = nginx_main_config(directory, site)
    return subprocess.run(
        [nginx, "-t", "-p", str(directory), "-c", str(config), "-e", str(directory / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
