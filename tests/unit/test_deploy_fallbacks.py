"""`ai-bot deploy compose|k8s` carry the config's fallback chain into the container (issue 18:
only the default provider was carried, so a deployment silently lost `models.fallbacks`).

Each test renders through the real command, supplies the key variables the way Compose (`.env`
interpolated into the service's environment) or Kubernetes (the Secret as `envFrom`) would,
and loads the container's config.yaml with ai-bot's own loader: the providers, their order and
their keys must be the config's, and no key's value may be in any rendered file."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from aibot.config import Config, load_config
from tests.support.cli import AI_BOT, cli_env

# The values in the user's config.yaml: none of them may reach a rendered file.
CONFIG_KEYS = {"local": "sk-local-7f3a0c9e", "openai": "sk-openai-91bc44d2", "backup": "bk-55de10"}
CONFIG: dict[str, Any] = {
    "models": {
        "default": "local",
        "fallbacks": ["openai", "backup"],
        "providers": {
            "local": {
                "base_url": "http://10.0.0.5:8000/v1",
                "model": "qwen3:8b",
                "api_key": CONFIG_KEYS["local"],
            },
            "openai": {"preset": "openai", "model": "gpt-4o", "api_key": CONFIG_KEYS["openai"]},
            "backup": {
                "base_url": "https://llm.example.net/v1",
                "model": "llama-3.3-70b",
                "api_key": CONFIG_KEYS["backup"],
            },
            # neither default nor fallback: only /model picks it, the container has no use for it
            "spare": {"preset": "zhipu", "api_key": "sk-spare-0000"},
        },
    }
}
# Each provider's key variable: the default keeps the name deployments already set.
KEY_VARIABLES = {
    "local": "AIBOT_MODEL_API_KEY",
    "openai": "AIBOT_MODEL_OPENAI_API_KEY",
    "backup": "AIBOT_MODEL_BACKUP_API_KEY",
}
# What the operator puts in .env or the Secret (not the config's values: they must come from here).
SUPPLIED = {variable: f"supplied-{name}" for name, variable in KEY_VARIABLES.items()}
OTHER_SECRETS = {
    "AIBOT_API_KEY": "gateway-key",
    "POSTGRES_PASSWORD": "pw",
    "GRAFANA_ADMIN_PASSWORD": "admin-pw",
}
KUBERNETES_VERSION = "1.31"


def deploy(
    tmp_path: Path, kind: str, config: Mapping[str, Any]
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(dict(config)), encoding="utf-8")
    return subprocess.run(
        [str(AI_BOT), "deploy", kind, "--out", str(tmp_path / kind)],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def rendered(tmp_path: Path, kind: str) -> Path:
    result = deploy(tmp_path, kind, CONFIG)
    assert result.returncode == 0, result.stderr
    for value in [*CONFIG_KEYS.values(), "sk-spare-0000"]:
        assert value not in result.stdout + result.stderr
    out = tmp_path / kind
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for value in [*CONFIG_KEYS.values(), "sk-spare-0000"]:
                assert value not in text, f"{value} in {path}"
    return out


_COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}")


def compose_interpolate(value: str, dotenv: Mapping[str, str]) -> str:
    """What `docker compose config` makes of a value: `${VAR}`, `${VAR:-default}` and
    `${VAR:?error}` (which must be set) filled from .env."""

    def fill(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if dotenv.get(name):
            return dotenv[name]
        assert kind != "?", f"docker compose refuses: {rest}"
        return rest if kind == "-" else ""

    return _COMPOSE_VARIABLE.sub(fill, value)


def load_container_config(
    text: str, environment: Mapping[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Config:
    path = tmp_path / "container" / "config.yaml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return load_config(path).config


def assert_same_chain(config: Config) -> None:
    """The config's default and fallbacks, each as configured, each with its supplied key."""
    models, source = config.models, CONFIG["models"]
    assert models.default == "local"
    assert models.fallbacks == ["openai", "backup"]
    assert set(models.providers) == {"local", "openai", "backup"}
    for name, provider in models.providers.items():
        configured = source["providers"][name]
        assert provider.preset == configured.get("preset")
        assert provider.base_url == configured.get("base_url")
        assert provider.model == configured["model"]
        assert provider.api_key is not None
        assert provider.api_key.get_secret_value() == SUPPLIED[KEY_VARIABLES[name]]


def test_compose_carries_the_fallbacks_each_with_its_own_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = rendered(tmp_path, "compose")
    compose_text = (out / "docker-compose.yml").read_text(encoding="utf-8")
    header = "".join(line for line in compose_text.splitlines() if line.startswith("#"))
    assert all(variable in header for variable in KEY_VARIABLES.values())  # what to put in .env
    service = yaml.safe_load(compose_text)["services"]["ai-bot"]
    dotenv = {**OTHER_SECRETS, **SUPPLIED}
    environment = {
        name: compose_interpolate(str(value), dotenv)
        for name, value in service["environment"].items()
    }
    config = load_container_config(
        (out / "deploy/compose/config.yaml").read_text(encoding="utf-8"),
        environment,
        tmp_path,
        monkeypatch,
    )
    assert_same_chain(config)


def test_k8s_carries_the_fallbacks_each_with_its_own_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = rendered(tmp_path, "k8s")
    manifests = {path.name: yaml.safe_load(path.read_text()) for path in out.glob("*.yaml")}
    for name, manifest in manifests.items():
        if name != "kustomization.yaml":
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    secret = manifests["secret.example.yaml"]["stringData"]
    assert {variable: secret[variable] for variable in KEY_VARIABLES.values()} == {
        variable: "change-me" for variable in KEY_VARIABLES.values()
    }
    # The pod's environment is the Secret (envFrom) with the operator's real values in it.
    environment = {**secret, **SUPPLIED, "AIBOT_API_KEY": "gateway-key"}
    config = load_container_config(
        manifests["configmap.yaml"]["data"]["config.yaml"], environment, tmp_path, monkeypatch
    )
    assert_same_chain(config)


def test_the_default_provider_keeps_its_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AIBOT_MODEL_BASE_URL and AIBOT_MODEL still choose the default provider's server and model
    at run time, as before; the fallbacks stay as configured."""
    out = rendered(tmp_path, "k8s")
    text = yaml.safe_load((out / "configmap.yaml").read_text())["data"]["config.yaml"]
    overrides = {"AIBOT_MODEL_BASE_URL": "http://10.0.0.9:8000/v1", "AIBOT_MODEL": "qwen3:32b"}
    config = load_container_config(text, {**SUPPLIED, **overrides}, tmp_path, monkeypatch)
    default = config.models.providers["local"]
    assert (default.base_url, default.model) == ("http://10.0.0.9:8000/v1", "qwen3:32b")
    assert config.models.providers["openai"].preset == "openai"


def test_deploy_says_which_key_variables_to_set(tmp_path: Path) -> None:
    result = deploy(tmp_path, "compose", CONFIG)
    assert result.returncode == 0, result.stderr
    for name, variable in KEY_VARIABLES.items():
        assert f"{variable} ({name})" in result.stderr
    chinese = subprocess.run(
        [str(AI_BOT), "deploy", "k8s", "--out", str(tmp_path / "zh")],
        cwd=tmp_path,
        env={**cli_env(), "LANG": "zh_CN.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert chinese.returncode == 0, chinese.stderr
    assert "AIBOT_MODEL_OPENAI_API_KEY (openai)" in chinese.stderr
    assert "Secret" in chinese.stderr and "密钥" in chinese.stderr


@pytest.mark.parametrize(
    ("names", "refused"),
    [
        (["glm-4", "glm_4"], "AIBOT_MODEL_GLM_4_API_KEY"),  # two providers, one variable
        (["通义"], "通义"),  # no variable name can be made of it
    ],
)
def test_fallback_names_that_make_no_distinct_variable_are_refused(
    tmp_path: Path, names: list[str], refused: str
) -> None:
    providers = {name: {"preset": "zhipu"} for name in names}
    config = {
        "models": {
            "default": "local",
            "fallbacks": names,
            "providers": {"local": {"preset": "deepseek"}, **providers},
        }
    }
    result = deploy(tmp_path, "compose", config)
    assert result.returncode == 2
    assert refused in result.stderr
    assert not (tmp_path / "compose").exists()


def test_a_fallback_without_preset_or_base_url_is_refused(tmp_path: Path) -> None:
    config = {
        "models": {
            "default": "local",
            "fallbacks": ["odd"],
            "providers": {"local": {"preset": "deepseek"}, "odd": {"model": "m"}},
        }
    }
    result = deploy(tmp_path, "k8s", config)
    assert result.returncode == 2
    assert "odd" in result.stderr and "base_url" in result.stderr
