"""deploy/install.sh, run for real in dry-run mode inside a throwaway root: every command it
would run is logged (and checked here), the files it writes land under the root and are the
renderer's output, a second run changes nothing, and shellcheck finds nothing."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from aibot.deploy.options import DeployOptions
from aibot.deploy.render import render_nginx, render_systemd
from tests.support.cli import AI_BOT
from tests.support.deploy_tools import REPO, require_tool

INSTALL = REPO / "deploy" / "install.sh"


@pytest.fixture
def stubs(tmp_path: Path) -> Path:
    """A `ufw` on PATH, so the firewall step is taken; dry runs never execute it."""
    directory = tmp_path / "bin"
    directory.mkdir()
    ufw = directory / "ufw"
    ufw.write_text("#!/bin/sh\necho 'ufw must not run in a dry run' >&2\nexit 99\n")
    ufw.chmod(0o755)
    return directory


def install(stubs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{stubs}:{AI_BOT.parent}:/usr/bin:/bin", "HOME": str(stubs)}
    return subprocess.run(
        ["bash", str(INSTALL), *args], capture_output=True, text=True, env=env, timeout=120
    )


def commands(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_shellcheck_is_clean() -> None:
    shellcheck = require_tool("shellcheck", "shellcheck")
    result = subprocess.run(
        [shellcheck, "--severity=style", str(INSTALL)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout


def test_full_install_with_domain(stubs: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = install(
        stubs,
        "--dry-run",
        "--root",
        str(root),
        "--domain",
        "bot.example.com",
        "--email",
        "ops@example.com",
        "--port",
        "8080",
    )
    assert result.returncode == 0, result.stderr
    run = commands(result.stdout)
    user_exists = subprocess.run(["id", "-u", "ai-bot"], capture_output=True).returncode == 0
    assert (
        any(c.startswith("useradd --system --user-group --home-dir /var/lib/ai-bot") for c in run)
        != user_exists
    )
    assert any(
        c.startswith("env DEBIAN_FRONTEND=noninteractive apt-get install") and "certbot" in c
        for c in run
    )
    expected_in_order = [
        f"chown root:ai-bot {root}/etc/ai-bot",
        f"chown ai-bot:ai-bot {root}/var/lib/ai-bot",
        f"{root}/opt/ai-bot/venv/bin/python -m pip install --quiet --upgrade {REPO}",
        f"chown ai-bot:ai-bot {root}/etc/ai-bot/.env",
        "systemctl daemon-reload",
        "systemctl enable ai-bot.service ai-bot-maintenance.timer",
        f"ln -sfn /etc/nginx/sites-available/ai-bot.conf {root}/etc/nginx/sites-enabled/"
        "ai-bot.conf",
        "nginx -t",
        "systemctl reload-or-restart nginx",
        "certbot certonly --webroot --webroot-path /var/www/letsencrypt --domain "
        "bot.example.com --email ops@example.com --agree-tos --non-interactive "
        "--keep-until-expiring --deploy-hook systemctl\\ reload\\ nginx",
        "nginx -t",
        "systemctl reload nginx",
        "ufw default deny incoming",
        "ufw allow 22/tcp",
        "ufw allow 80/tcp",
        "ufw allow 443/tcp",
        "ufw --force enable",
    ]
    position = -1
    for command in expected_in_order:  # each one present, in this order
        position = run.index(command, position + 1)
    assert not any(c.startswith("systemctl restart ai-bot") for c in run)  # no config yet

    assert {f for f in files_under(root) if not f.startswith("var/lib/ai-bot/data/")} == {
        "etc/ai-bot/.env",
        "etc/ai-bot/initial-admin.txt",
        "etc/systemd/system/ai-bot.service",
        "etc/systemd/system/ai-bot-maintenance.service",
        "etc/systemd/system/ai-bot-maintenance.timer",
        "etc/nginx/sites-available/ai-bot.conf",
    }
    # The first console admin: in the store the service will use, its password root-only.
    assert (root / "var/lib/ai-bot/data/ai-bot.db").is_file()
    initial = root / "etc/ai-bot/initial-admin.txt"
    assert stat.S_IMODE(initial.stat().st_mode) == 0o600
    credentials = initial.read_text()
    assert "user: admin" in credentials and "password: " in credentials
    assert f"chown root:root {root}/etc/ai-bot/initial-admin.txt" in run
    assert "password in /etc/ai-bot/initial-admin.txt" in result.stdout
    env_file = root / "etc/ai-bot/.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((root / "etc/ai-bot").stat().st_mode) == 0o750
    (key_line,) = [
        line for line in env_file.read_text().splitlines() if line.startswith("AIBOT_API_KEY=")
    ]
    assert len(key_line.split("=", 1)[1]) >= 32

    options = DeployOptions(
        host="127.0.0.1",
        port=8080,
        domain="bot.example.com",
        trusted_proxies=("127.0.0.1", "::1"),  # its nginx, and only it, reports client addresses
    )
    units = render_systemd(options)
    for name, content in units.items():
        assert (root / "etc/systemd/system" / name).read_text() == content
    assert "--trusted-proxy 127.0.0.1 --trusted-proxy ::1" in units["ai-bot.service"]
    site = (root / "etc/nginx/sites-available/ai-bot.conf").read_text()
    assert (
        site
        == render_nginx(
            DeployOptions(host="127.0.0.1", port=8080, domain="bot.example.com", tls=True)
        )["ai-bot.conf"]
    )
    assert "Next step" in result.stdout
    assert "ai-bot init --path /etc/ai-bot/config.yaml --port 8080" in result.stdout

    again = install(
        stubs,
        "--dry-run",
        "--root",
        str(root),
        "--domain",
        "bot.example.com",
        "--email",
        "ops@example.com",
        "--port",
        "8080",
    )
    assert again.returncode == 0, again.stderr
    assert env_file.read_text().splitlines()[-1] == key_line  # the secret is kept
    assert initial.read_text() == credentials  # the admin is never reset
    assert "none was created, no password was reset" in again.stdout
    assert "new AIBOT_API_KEY" not in again.stdout
    assert (root / "etc/systemd/system/ai-bot.service").read_text() == units["ai-bot.service"]


def test_existing_config_decides_the_address_and_restarts(stubs: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/ai-bot").mkdir(parents=True)
    (root / "etc/ai-bot/config.yaml").write_text("server: {host: 0.0.0.0, port: 9000}\n")
    result = install(stubs, "--dry-run", "--root", str(root), "--no-nginx")
    assert result.returncode == 0, result.stderr
    unit = (root / "etc/systemd/system/ai-bot.service").read_text()
    # without nginx in front, the config's address and port are the unit's
    assert "ExecStart=/opt/ai-bot/venv/bin/ai-bot run --host 0.0.0.0 --port 9000" in unit
    run = commands(result.stdout)
    assert "systemctl restart ai-bot.service" in run
    assert not any("nginx" in c or "certbot" in c for c in run)
    assert [c for c in run if c.startswith("ufw allow")] == ["ufw allow 22/tcp"]
    assert "etc/nginx/sites-available/ai-bot.conf" not in files_under(root)


def test_dry_run_without_root_writes_nothing(stubs: Path, tmp_path: Path) -> None:
    result = install(stubs, "--dry-run", "--no-firewall")
    assert result.returncode == 0, result.stderr
    run = commands(result.stdout)
    assert (
        "ai-bot deploy systemd --out /etc/systemd/system --host 127.0.0.1 --trusted-proxy "
        "127.0.0.1 --trusted-proxy ::1 --prefix /opt/ai-bot --config-dir /etc/ai-bot "
        "--data-dir /var/lib/ai-bot --user ai-bot" in run
    )
    assert "mkdir -p -m 0750 /etc/ai-bot" in run
    assert (
        "(cd /var/lib/ai-bot && runuser -u ai-bot -- ai-bot admin create-initial --file "
        "/var/lib/ai-bot/initial-admin.txt)" in run
    )
    assert not any(c.startswith("ufw") for c in run)
    assert "dry run: nothing was changed" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--domain", "bot.example.com"], "--domain needs --email"),
        (["--root", "/tmp/x"], "--root is for trying the installer out"),
        (["--port", "99999"], "--port must be a number between 1 and 65535"),
        (["--domain", "bad domain;", "--email", "a@b"], "--domain must be a host name"),
        (["--bogus"], "unknown option: --bogus"),
    ],
)
def test_bad_options_are_refused(stubs: Path, args: list[str], message: str) -> None:
    result = install(stubs, "--dry-run", *args) if "--root" not in args else install(stubs, *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_needs_root_unless_dry_run(stubs: Path) -> None:
    if os.geteuid() == 0:
        result = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(INSTALL)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    else:
        result = install(stubs)
    assert result.returncode == 2 and "run as root" in result.stderr


def test_dry_run_after_make_run_uses_the_checkouts_ai_bot(stubs: Path, tmp_path: Path) -> None:
    """`make run` puts ai-bot in the checkout's .venv, not on PATH: a dry run finds it there
    (issue 18: it failed with "ai-bot is not installed in /opt/ai-bot/venv")."""
    checkout = tmp_path / "checkout"
    (checkout / ".venv" / "bin").mkdir(parents=True)
    (checkout / ".venv" / "bin" / "ai-bot").symlink_to(AI_BOT)
    env = {"PATH": f"{stubs}:/usr/bin:/bin", "HOME": str(stubs)}
    args = ["--dry-run", "--root", str(tmp_path / "root"), "--source", str(checkout)]
    result = subprocess.run(
        ["bash", str(INSTALL), *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "root" / "etc" / "systemd" / "system" / "ai-bot.service").is_file()
    (checkout / ".venv" / "bin" / "ai-bot").unlink()
    missing = subprocess.run(
        ["bash", str(INSTALL), *args], capture_output=True, text=True, env=env, timeout=120
    )
    assert missing.returncode == 2 and "make run" in missing.stderr, missing.stderr
