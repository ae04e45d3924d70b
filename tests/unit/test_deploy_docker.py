"""`ai-bot deploy`: the Dockerfile, its health check and the Compose stack.

The artefacts are checked by the tools that will read them (systemd-analyze, nginx -t, our own
config loader).
"""

from __future__ import annotations

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

from aibot.config import load_config
from aibot.deploy.options import STOP_TIMEOUT, DeployOptions
from aibot.deploy.render import render
from tests.support.cli import AI_BOT, COLUMNS


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
        env={"COLUMNS": COLUMNS, "TERM": "dumb"},
    )
    assert "AIBOT_HOST" in result.stdout and "AIBOT_PORT" in result.stdout


def test_compose_has_the_stack_and_drains_on_stop() -> None:
    files = render("compose", DeployOptions())
    compose = yaml.safe_load(files["docker-compose.yml"])
    services = compose["services"]
    assert set(services) == {"ai-bot", "postgres", "redis", "prometheus", "grafana"} | {
        "elasticsearch",
        "kibana",
        "filebeat",
    }
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
    assert config.logging.format == "json" and not config.logging.file  # stderr unless elk
    assert loaded.missing_env == []
