"""`ai-bot deploy`: the systemd units, the nginx site, the Docker and Compose files.

The artefacts are checked by the tools that will read them (systemd-analyze, nginx -t, our own
config loader) and the repository's copies must be exactly what the renderer produces.
"""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aibot.config import Config, load_config
from aibot.deploy.options import STOP_TIMEOUT, DeployOptions
from aibot.deploy.render import REPO_DIRS, render, render_nginx, render_systemd
from aibot.gateway.build import SHUTDOWN_GRACE
from tests.unit.deploy_tools import AI_BOT, REPO, find_tool, require_tool

UVICORN_GRACEFUL_SHUTDOWN = 30  # cli/serve.py: timeout_graceful_shutdown


def unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def test_repository_files_are_the_default_render() -> None:
    """One source of truth: editing a template without regenerating fails here."""
    for kind, base in REPO_DIRS.items():
        for name, content in render(kind, DeployOptions()).items():
            path = REPO / base / name
            assert path.read_text(encoding="utf-8") == content, (
                f"{path.relative_to(REPO)} differs from `ai-bot deploy {kind}`"
            )


# --------------------------------------------------------------------------- systemd


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


# --------------------------------------------------------------------------- nginx


def self_signed(directory: Path, domain: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def nginx_test(tmp_path: Path, site: str) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on the site inside a minimal main config under a temporary prefix."""
    nginx = require_tool("nginx", "nginx")
    (tmp_path / "ai-bot.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n    include {tmp_path}/ai-bot.conf;\n}}\n",
        encoding="utf-8",
    )
    return subprocess.run(
        [
            nginx,
            "-t",
            "-p",
            str(tmp_path),
            "-c",
            str(tmp_path / "nginx.conf"),
            "-e",
            str(tmp_path / "error.log"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_http_site_passes_nginx_t_and_proxies_websockets(tmp_path: Path) -> None:
    site = render_nginx(
        DeployOptions(port=8080, max_body_bytes=2_000_000, domain="bot.example.com")
    )["ai-bot.conf"]
    result = nginx_test(tmp_path, site)
    assert result.returncode == 0, result.stderr
    assert "server 127.0.0.1:8080;" in site and "server_name bot.example.com;" in site
    assert "client_max_body_size 2000000;" in site
    ws = site[site.index("location /ws") : site.index("location / {")]
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_set_header Connection $ai_bot_8080_connection;" in ws
    assert "proxy_read_timeout 1h;" in ws and "proxy_set_header Host $host;" in ws
    assert "proxy_buffering off;" in site  # streamed answers
    assert re.search(r"location = /metrics \{\s+deny all;", site)


def test_tls_site_passes_nginx_t_and_redirects_http(tmp_path: Path) -> None:
    self_signed(tmp_path, "bot.example.com")
    site = render_nginx(DeployOptions(domain="bot.example.com", tls=True, cert_dir=str(tmp_path)))[
        "ai-bot.conf"
    ]
    result = nginx_test(tmp_path, site)
    assert result.returncode == 0, result.stderr
    assert "return 301 https://$host$request_uri;" in site
    assert "listen 443 ssl http2;" in site and "/.well-known/acme-challenge/" in site


def test_broken_site_fails_nginx_t(tmp_path: Path) -> None:
    """The nginx check above can fail: a site with a typo does."""
    site = render_nginx(DeployOptions())["ai-bot.conf"].replace(
        "proxy_buffering off", "proxy_bufering off"
    )
    assert nginx_test(tmp_path, site).returncode != 0


def test_tls_without_a_domain_is_refused() -> None:
    result = subprocess.run(
        [str(AI_BOT), "deploy", "nginx", "--tls"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO / "deploy",
        env={"COLUMNS": "200"},
    )
    assert result.returncode == 2 and "needs a domain" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nginx", "--domain", "bot.example.com; evil"], "not a host name"),
        (["systemd", "--prefix", "/opt/my bot"], "--prefix must be an absolute path"),
        (["systemd", "--host", "127.0.0.1 --evil"], "not an address"),
        (["k8s", "--image", "ai-bot\n  evil: 1"], "not an image reference"),
    ],
)
def test_values_that_would_inject_into_the_files_are_refused(args: list[str], message: str) -> None:
    result = subprocess.run(
        [str(AI_BOT), "deploy", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO / "deploy",
        env={"COLUMNS": "200"},
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_wildcard_bind_is_proxied_on_loopback() -> None:
    assert DeployOptions(host="0.0.0.0", port=1).upstream_address == "127.0.0.1:1"
    assert DeployOptions(host="::", port=1).upstream_address == "[::1]:1"
    assert DeployOptions(host="10.1.2.3", port=1).upstream_address == "10.1.2.3:1"


# --------------------------------------------------------------------------- Docker, Compose


def test_dockerfile_is_multi_stage_non_root_and_binds_all_only_explicitly() -> None:
    dockerfile = render("docker", DeployOptions())["Dockerfile"]
    assert re.findall(r"^FROM (\S+)", dockerfile, re.M) == ["python:3.11-slim"] * 2
    assert "COPY --from=build /opt/ai-bot /opt/ai-bot" in dockerfile
    assert re.search(r"^USER 10001:10001$", dockerfile, re.M)
    assert "AIBOT_HOST=0.0.0.0" in dockerfile and 'VOLUME ["/var/lib/ai-bot"]' in dockerfile
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD \[.*/healthz", dockerfile, re.M)
    assert dockerfile.rstrip().endswith('CMD ["ai-bot", "run"]')


def healthcheck_command() -> list[str]:
    dockerfile = render("docker", DeployOptions())["Dockerfile"]
    match = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$", dockerfile, re.M)
    assert match
    command: list[str] = json.loads(match.group(1))
    return command


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_docker_healthcheck_probes_healthz(health_server: int) -> None:
    """The HEALTHCHECK command itself, run here: 0 when /healthz answers, 1 when nothing does."""
    command = healthcheck_command()
    assert command[0] == "python"
    argv = [sys.executable, *command[1:]]
    ok = subprocess.run(
        argv, env={"AIBOT_PORT": str(health_server)}, timeout=30, capture_output=True
    )
    assert ok.returncode == 0, ok.stderr
    down = subprocess.run(argv, env={"AIBOT_PORT": "1"}, timeout=30, capture_output=True)
    assert down.returncode == 1


def test_run_takes_host_and_port_from_the_environment() -> None:
    """The image's AIBOT_HOST/AIBOT_PORT reach `ai-bot run`."""
    result = subprocess.run(
        [str(AI_BOT), "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "TERM": "dumb"},
    )
    assert "AIBOT_HOST" in result.stdout and "AIBOT_PORT" in result.stdout


def test_compose_has_the_stack_and_drains_on_stop() -> None:
    files = render("compose", DeployOptions())
    compose = yaml.safe_load(files["docker-compose.yml"])
    services = compose["services"]
    assert set(services) == {"ai-bot", "postgres", "redis", "prometheus", "grafana"}
    gateway = services["ai-bot"]
    assert gateway["ports"] == ["127.0.0.1:18789:18789"]
    assert int(gateway["stop_grace_period"].rstrip("s")) == STOP_TIMEOUT
    assert gateway["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                # a mounted file or directory ships with the compose file
                assert any(name.startswith(source.removeprefix("./")) for name in files), source
    prometheus = yaml.safe_load(files["deploy/prometheus/prometheus.yml"])
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == ["ai-bot:18789"]
    datasource = yaml.safe_load(files["deploy/grafana/provisioning/datasources/prometheus.yml"])[
        "datasources"
    ][0]
    assert datasource["url"] == "http://prometheus:9090"


def test_container_config_loads_with_the_compose_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(render("compose", DeployOptions())["deploy/compose/config.yaml"])
    for name, value in {
        "POSTGRES_PASSWORD": "pw",
        "AIBOT_API_KEY": "gateway-key",
        "AIBOT_MODEL_API_KEY": "sk-model",
        "AIBOT_MODEL_PRESET": "zhipu",
    }.items():
        monkeypatch.setenv(name, value)
    loaded = load_config(path)
    config = loaded.config
    assert config.storage.url == "postgresql://aibot:pw@postgres:5432/aibot"
    assert config.redis.url == "redis://redis:6379/0"
    assert [k.get_secret_value() for k in config.channels.api.keys] == ["gateway-key"]
    provider = config.models.providers["main"]
    assert provider.preset == "zhipu" and provider.model == ""
    assert loaded.missing_env == []


# --------------------------------------------------------------------------- the command


def test_deploy_prints_or_writes_from_the_current_config(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "server": {
                    "port": 9000,
                    "public_url": "https://bot.example.org",
                    "max_body_bytes": 4096,
                }
            }
        )
    )
    printed = subprocess.run(
        [str(AI_BOT), "deploy", "nginx"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert printed.returncode == 0, printed.stderr
    expected = render_nginx(
        DeployOptions.from_config(
            Config.model_validate(
                {
                    "server": {
                        "port": 9000,
                        "public_url": "https://bot.example.org",
                        "max_body_bytes": 4096,
                    }
                }
            ),
            {},
        )
    )["ai-bot.conf"]
    assert printed.stdout == "# ==> ai-bot.conf <==\n" + expected
    assert "server_name bot.example.org;" in expected and "127.0.0.1:9000" in expected
    out = tmp_path / "k8s"
    written = subprocess.run(
        [
            str(AI_BOT),
            "deploy",
            "k8s",
            "--out",
            str(out),
            "--port",
            "9100",
            "--image",
            "registry.example.org/ai-bot:1.0",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert written.returncode == 0, written.stderr
    deployment = yaml.safe_load((out / "deployment.yaml").read_text())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example.org/ai-bot:1.0"
    assert container["ports"] == [{"name": "http", "containerPort": 9100}]
