"""Reading config.yaml: the file is found (`-c`, `$AIBOT_CONFIG`, ./config.yaml), `${VAR}`s are
filled from the environment and `.env`, and the result is validated into one `Config`; every
problem becomes one readable line of a `ConfigError` (`refusals.py`), said in its reader's
language.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aibot.config.base import ConfigError
from aibot.config.presets import PRESETS
from aibot.config.refusals import refusal
from aibot.config.schema import Config
from aibot.i18n import N_

DEFAULT_CONFIG_FILE = "config.yaml"
CONFIG_ENV_VAR = "AIBOT_CONFIG"

_ENV_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Sections that moved under `channels:`; the old top-level keys still load, with a notice.
MOVED_TO_CHANNELS = ("api", "webchat")


@dataclass
class LoadedConfig:
    """The validated config plus where it came from, which `${VAR}`s were unset and which
    old spellings it used (`deprecated`: one line each, logged once when the gateway starts).
    A dataclass: everything in it is validated already or made here, and as a pydantic model
    the first load also built its schema and validator, `Config`'s tree inside them (6.8 M
    instructions, ~1.4 ms of a start's CPU)."""

    config: Config
    path: Path | None
    missing_env: list[str] = field(default_factory=list)
    deprecated: list[str] = field(default_factory=list)


def interpolate(value: Any, env: Mapping[str, str], missing: list[str]) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; unset names are collected."""
    if isinstance(value, str):

        def _sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is None and name not in missing:
                missing.append(name)
            return default or ""

        return _ENV_REF_RE.sub(_sub, value)
    if isinstance(value, list):
        return [interpolate(v, env, missing) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env, missing) for k, v in value.items()}
    return value


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """`-c` beats `$AIBOT_CONFIG` beats `./config.yaml`; None means run on defaults."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError.of(
                N_("config file not found: {path} (create one with `ai-bot init`)"), path=str(path)
            )
        return path
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        return resolve_config_path(from_env)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def build_environment(config_dir: Path) -> dict[str, str]:
    """The process environment wins over `.env` so deploy tooling can override a file."""
    env: dict[str, str] = {}
    for dotenv_path in (Path(".env"), config_dir / ".env"):
        if dotenv_path.is_file():
            # python-dotenv (~2 ms of CPU to import) only where there is a .env to read
            from dotenv import dotenv_values

            env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ)
    return env


def load_config(explicit: str | os.PathLike[str] | None = None) -> LoadedConfig:
    path = resolve_config_path(explicit)
    raw = read_yaml(path) if path is not None else {}
    env = build_environment(path.parent if path else Path("."))
    missing: list[str] = []
    data = interpolate(raw, env, missing) if path is not None else default_config_from_env(env)
    source = str(path or "defaults")
    data, deprecated = move_legacy_sections(data, source)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise refusal(exc, source, data) from None
    return LoadedConfig(config=config, path=path, missing_env=missing, deprecated=deprecated)


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError.of(
            N_("{path}:{where}: invalid YAML: {problem}"),
            path=str(path),
            where=where,
            problem=problem,
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError.of(
            N_("{path}: the top level must be a mapping of sections"), path=str(path)
        )
    return raw


def parse_yaml(text: str) -> Any:
    """`yaml.safe_load`, through libyaml's parser where PyYAML has it (its wheels do): a start
    parses an `ai-bot init` config in ~0.4 instead of ~1.5-2.5 ms of CPU, a reload too. Text
    libyaml refuses is parsed again by PyYAML's own parser, so a refusal reads as it always
    has (PyYAML's messages name the character at fault; libyaml's do not)."""
    if not hasattr(yaml, "CSafeLoader"):
        return yaml.safe_load(text)
    try:
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return yaml.safe_load(text)


def move_legacy_sections(data: dict[str, Any], source: str) -> tuple[dict[str, Any], list[str]]:
    """`api:` and `webchat:` were top-level sections before they joined the other channels;
    a file that still has them loads as if they were under `channels:`, with one notice each,
    so no user's config breaks. Both places at once is ambiguous and refused."""
    notices: list[str] = []
    channels = data.get("channels")
    for key in MOVED_TO_CHANNELS:
        if key not in data or not isinstance(channels, dict | None):
            continue
        if channels and key in channels:
            raise ConfigError.of(
                N_(
                    "{source}: {key}: set both here and as channels.{key}; keep only channels.{key}"
                ),
                source=source,
                key=key,
            )
        data = dict(data)
        channels = data["channels"] = {**(channels or {}), key: data.pop(key)}
        notices.append(
            f"{source}: the top-level `{key}:` section is now `channels.{key}:`; it still "
            f"works, but move it there (`ai-bot config` shows the new place)"
        )
    return _move_trusted_proxies(data, source, notices)


def _move_trusted_proxies(
    data: dict[str, Any], source: str, notices: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """`admin.trusted_proxies` became `server.trusted_proxies` when every route (not only the
    console) started reading the client address through it."""
    admin, server = data.get("admin"), data.get("server")
    if not isinstance(admin, dict) or "trusted_proxies" not in admin:
        return data, notices
    if isinstance(server, dict) and "trusted_proxies" in server:
        raise ConfigError.of(
            N_(
                "{source}: trusted_proxies: set both as admin.trusted_proxies and as "
                "server.trusted_proxies; keep only server.trusted_proxies"
            ),
            source=source,
        )
    rest = {k: v for k, v in admin.items() if k != "trusted_proxies"}
    server = {
        **(server if isinstance(server, dict) else {}),
        "trusted_proxies": admin["trusted_proxies"],
    }
    notices.append(
        f"{source}: `admin.trusted_proxies` is now `server.trusted_proxies`; it still works, "
        "but move it there"
    )
    return {**data, "admin": rest, "server": server}, notices


def default_config_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """With no config file, pick up well-known provider keys so `ai-bot run` just works."""
    providers: dict[str, Any] = {}
    for name, preset in PRESETS.items():
        if preset.env_key and env.get(preset.env_key):
            providers[name] = {"preset": name, "api_key": env[preset.env_key]}
    data: dict[str, Any] = {"models": {"providers": providers}}
    if providers:
        data["models"]["default"] = next(iter(providers))
    if env.get("AIBOT_API_KEY"):
        data["channels"] = {"api": {"keys": [env["AIBOT_API_KEY"]]}}
    return data
