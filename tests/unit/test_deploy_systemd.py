"""`ai-bot deploy`: the systemd units (hardening, the drain, the maintenance timer).

The artefacts are checked by the tools that will read them (systemd-analyze, nginx -t, our own
config loader).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from aibot.deploy.options import STOP_TIMEOUT, DeployOptions
from aibot.deploy.render import render_systemd
from aibot.gateway.build import SHUTDOWN_GRACE
from tests.support.cli import AI_BOT
from tests.support.deploy_tools import find_tool

UVICORN_GRACEFUL_SHUTDOWN = 30  # cli/serve.py: timeout_graceful_shutdown


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_service_unit_is_hardened_and_outlasts_the_drain() -> None:
    unit = unit_settings(render_systemd(DeployOptions(port=8080))["ai-bot.service"])
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "Restart": "on-failure",
        "User": "ai-bot",
        "ReadWritePaths": "/var/lib/ai-bot",
        "CapabilityBoundingSet": "",
        "LimitNOFILE": "65536",
        "MemoryMax": "1G",
    }.items():
        assert unit[key] == [value], key
    assert unit["ExecStart"] == ["/opt/ai-bot/venv/bin/ai-bot run --host 127.0.0.1 --port 8080"]
    assert unit["Environment"][0] == "AIBOT_CONFIG=/etc/ai-bot/config.yaml"
    stop = int(unit["TimeoutStopSec"][0])
    assert stop == STOP_TIMEOUT > SHUTDOWN_GRACE + UVICORN_GRACEFUL_SHUTDOWN


def test_privileged_port_gets_only_the_bind_capability() -> None:
    unit = unit_settings(render_systemd(DeployOptions(port=80))["ai-bot.service"])
    assert unit["CapabilityBoundingSet"] == unit["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]


def test_maintenance_timer_runs_the_maintenance_command_daily() -> None:
    files = render_systemd(DeployOptions(prefix="/srv/bot", data_dir="/srv/data"))
    service = unit_settings(files["ai-bot-maintenance.service"])
    assert service["ExecStart"] == ["/srv/bot/venv/bin/ai-bot maintenance"]
    assert service["Type"] == ["oneshot"] and service["ReadWritePaths"] == ["/srv/data"]
    timer = unit_settings(files["ai-bot-maintenance.timer"])
    assert timer["OnCalendar"] == ["daily"] and timer["Persistent"] == ["true"]


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    (prefix / "venv" / "bin").mkdir(parents=True)
    (prefix / "venv" / "bin" / "ai-bot").symlink_to(AI_BOT)
    units = tmp_path / "units"
    result = subprocess.run(
        [str(AI_BOT), "deploy", "systemd", "--prefix", str(prefix), "--out", str(units)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in units.iterdir()) == [
        "ai-bot-maintenance.service",
        "ai-bot-maintenance.timer",
        "ai-bot.service",
    ]
    analyze = find_tool("systemd-analyze")
    if analyze is None:
        return  # only this check needs systemd; the rendering above still ran
    verify = subprocess.run(
        [analyze, "verify", *map(str, sorted(units.iterdir()))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr
    assert "Unknown" not in verify.stderr and "ignoring" not in verify.stderr, verify.stderr
