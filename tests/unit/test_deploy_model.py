"""`ai-bot deploy compose|k8s` carry the config's own model provider into the container: a
custom OpenAI-compatible server stays a base URL, a preset stays that preset (issue 18: a custom
provider was silently replaced by the DeepSeek preset)."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from aibot.config import load_config
from aibot.deploy.options import DeployOptions
from aibot.deploy.providers import ContainerProvider
from aibot.deploy.render import render
from tests.support.cli import AI_BOT, cli_env

CUSTOM = {
    "models": {
        "default": "local",
        "providers": {"local": {"base_url": "http://10.0.0.5:8000/v1", "model": "qwen3:8b"}},
    }
}


def deploy(tmp_path: Path, kind: str, config: Mapping[str, object]) -> Path:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    out = tmp_path / kind
    result = subprocess.run(
        [str(AI_BOT), "deploy", kind, "--out", str(out)],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_k8s_keeps_a_custom_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = deploy(tmp_path, "k8s", CUSTOM)
    configmap = yaml.safe_load((out / "configmap.yaml").read_text())
    container_config = tmp_path / "container.yaml"
    container_config.write_text(configmap["data"]["config.yaml"])
    monkeypatch.setenv("AIBOT_MODEL_API_KEY", "sk-local")
    models = load_config(container_config).config.models
    provider = models.providers["local"]  # the config's own name, which /model accepts
    assert models.aliases == {"main": "local"}  # earlier renders' name still works on /v1
    assert provider.base_url == "http://10.0.0.5:8000/v1" and provider.preset is None
    assert provider.model == "qwen3:8b"
    secret = yaml.safe_load((out / "secret.example.yaml").read_text())["stringData"]
    assert "AIBOT_MODEL_PRESET" not in secret
    assert secret["AIBOT_MODEL_BASE_URL"] == "http://10.0.0.5:8000/v1"


def test_compose_keeps_the_configured_preset(tmp_path: Path) -> None:
    config = {"models": {"providers": {"glm": {"preset": "zhipu", "model": "glm-4.6"}}}}
    out = deploy(tmp_path, "compose", config)
    compose = yaml.safe_load((out / "docker-compose.yml").read_text())
    environment = compose["services"]["ai-bot"]["environment"]
    assert environment["AIBOT_MODEL_PRESET"] == "${AIBOT_MODEL_PRESET:-zhipu}"
    assert environment["AIBOT_MODEL"] == "${AIBOT_MODEL:-glm-4.6}"
    assert "AIBOT_MODEL_BASE_URL" not in environment


def test_without_a_provider_the_container_defaults_to_deepseek() -> None:
    config = yaml.safe_load(render("compose", DeployOptions())["deploy/compose/config.yaml"])
    assert config["models"]["providers"]["main"]["preset"] == "${AIBOT_MODEL_PRESET:-deepseek}"


@pytest.mark.parametrize(
    ("choice", "refused"),
    [
        ({"base_url": 'http://x/v1" evil'}, "not a base URL"),
        ({"model": "m\n  evil: 1"}, "not a model name"),
        ({"preset": "nope"}, "not a provider preset"),
        ({"name": "${AIBOT_API_KEY}"}, "not a provider name"),
    ],
)
def test_provider_values_cannot_break_the_yaml(choice: dict[str, str], refused: str) -> None:
    with pytest.raises(ValueError, match=refused):
        ContainerProvider(**choice)
