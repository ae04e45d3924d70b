"""The whole `config.yaml` as one typed schema, plus loading with `${VAR}` and `.env` interpolation.

Every key has a type, a default and a description so `ai-bot config` can document it and a typo
is reported as one readable line instead of silently ignored.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from dotenv import dotenv_values
from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from aibot.config.base import ConfigError, Section, parse_duration
from aibot.config.channels import (
    ChannelsConfig,
)
from aibot.config.data import OutboxConfig, RedisConfig, RetentionConfig, StorageConfig
from aibot.config.policy import (
    PolicyConfig,
    RouteConfig,
)

DEFAULT_CONFIG_FILE = "config.yaml"
CONFIG_ENV_VAR = "AIBOT_CONFIG"

_ENV_REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ServerConfig(Section):
    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 exposes the gateway.")
    port: int = Field(18789, ge=1, le=65535, description="Gateway port (chat page, API, webhooks).")
    public_url: str | None = Field(None, description="Public https URL, used to register webhooks.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted.")

    @property
    def local_url(self) -> str:
        """How a command on this machine reaches the gateway (a wildcard bind via loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://{host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """Loopback binds are reachable only from this machine, so the web page may stay open."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class ApiConfig(Section):
    keys: list[SecretStr] = Field(
        default_factory=list, description="Bearer keys accepted by /v1, /api/v1 and the web page."
    )
    key_refresh: float = Field(
        5.0,
        gt=0,
        description="How often keys made in the admin console are reloaded; a "
        "revocation reaches other replicas within this.",
    )

    @field_validator("key_refresh", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("keys", mode="after")
    @classmethod
    def _drop_empty(cls, keys: list[SecretStr]) -> list[SecretStr]:
        """An unset `${AIBOT_API_KEY}` interpolates to '' and must not become a valid key."""
        return [k for k in keys if k.get_secret_value().strip()]


class ProviderConfig(Section):
    preset: str | None = Field(None, description="Vendor preset: openai, minimax, zhipu, deepseek…")
    base_url: str | None = Field(None, description="OpenAI-compatible base URL; overrides preset.")
    api_key: SecretStr | None = Field(None, description="The provider's API key.")
    model: str | None = Field(None, description="Model name sent to the provider.")
    timeout: float = Field(120.0, gt=0, description="Seconds allowed for one model call.")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds allowed to connect.")
    max_retries: int = Field(2, ge=0, le=10, description="Retries on 429/5xx/timeouts.")
    max_tokens: int | None = Field(None, ge=1, description="Cap on answer tokens.")
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature.")
    extra_body: dict[str, Any] = Field(default_factory=dict, description="Extra request fields.")
    extra_headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers.")
    reasoning_echo: Literal["none", "field", "think_tags"] | None = Field(
        None, description="How stored reasoning is sent back in history (preset decides if unset)."
    )
    max_connections: int = Field(100, ge=1, description="Pooled connections to this provider.")


class CanaryConfig(Section):
    provider: str = Field(description="The provider under trial.")
    weight: float = Field(ge=0, le=100, description="Percent of conversations sent to it.")


class ModelsConfig(Section):
    default: str | None = Field(None, description="Provider name used unless a session picks one.")
    fallbacks: list[str] = Field(default_factory=list, description="Tried in order on failure.")
    breaker_failures: int = Field(
        5, ge=1, description="Consecutive failed calls that open a provider's circuit."
    )
    breaker_cooldown: float = Field(
        30.0, description="How long an open circuit skips its provider (e.g. 30s)."
    )
    providers: dict[str, ProviderConfig] = Field(
        default_factory=dict, description="Named providers; the names are what /model accepts."
    )
    canary: CanaryConfig | None = Field(
        None, description="Send a share of conversations (sticky) to a provider under trial."
    )

    @field_validator("breaker_cooldown", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _names_exist(self) -> ModelsConfig:
        """A misspelt default would otherwise silently route every message elsewhere."""
        known = ", ".join(self.providers) or "none configured"
        named = [("default", self.default), *(("fallbacks", f) for f in self.fallbacks)]
        if self.canary is not None:
            named.append(("canary.provider", self.canary.provider))
        for field, name in named:
            if name is not None and name not in self.providers:
                raise ValueError(
                    f"models.{field}: '{name}' is not a provider under "
                    f"models.providers (configured: {known})"
                )
        return self


class SessionConfig(Section):
    max_turns: int = Field(20, ge=0, le=1000, description="Exchanges kept as context.")
    max_context_tokens: int = Field(
        16000, ge=256, description="Token budget for history; oldest turns are dropped first."
    )
    idle_reset: float | None = Field(
        1800.0, description="Start a fresh context after this much silence (e.g. 30m); null: never."
    )
    system_prompt: str | None = Field(None, description="System prompt sent before the history.")
    cache_sessions: int = Field(2000, ge=0, description="Recent conversations kept in memory.")

    @field_validator("idle_reset", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value in (None, "", 0, "0", "never") else parse_duration(value)


class DispatcherConfig(Section):
    max_concurrency: int = Field(64, ge=1, description="Sessions processed at the same time.")
    max_queue: int = Field(10000, ge=1, description="Messages waiting before back-pressure.")


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Lowest level written; info logs one line per message."
    )
    format: Literal["auto", "console", "json"] = Field(
        "auto", description="auto: readable on a terminal, JSON otherwise."
    )
    file: str | None = Field(
        None,
        description="Write JSON lines to this file (rotated) instead of stderr; null: "
        "stderr, for journald or docker logs.",
    )
    rotate: Literal["size", "daily"] = Field(
        "size", description="size: a new file at max_bytes; daily: a new file at UTC midnight."
    )
    max_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, description="With rotate: size, the size a log file may reach."
    )
    backups: int = Field(
        7, ge=0, description="Rotated files kept beside the current one; older ones are deleted."
    )


class AdminConfig(Section):
    """The admin console at /admin; users come only from `ai-bot admin create-user`."""

    enabled: bool = Field(True, description="Serve the admin console at /admin.")
    port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve /admin only on this port (e.g. 8080, to "
        "firewall it apart) and not on server.port; unset: on server.port.",
    )
    session_ttl: float = Field(
        28800.0, gt=0, description="A console login lasts this long (e.g. 8h)."
    )
    lockout_attempts: int = Field(
        5, ge=1, description="Failed logins (per user, and per client IP) before a lockout."
    )
    lockout_minutes: float = Field(
        15.0, gt=0, description="Minutes a locked-out user or IP must wait."
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="Reverse proxies (IPs or CIDRs) whose last X-Forwarded-For entry is taken "
        "as the client address (lockout, audit log); other peers' headers are ignored.",
    )

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _networks(cls, values: list[str]) -> list[str]:
        for value in values:
            ipaddress.ip_network(value, strict=False)
        return values

    @field_validator("session_ttl", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class EventsConfig(Section):
    """What the assistant does when platforms report changes (Telegram, Feishu, WeCom)."""

    greeting: str | None = Field(
        "Hi! I'm the team's AI assistant: mention me with a question. 你好！@我即可提问。",
        description="Sent when the bot is added to a group (or a WeCom user opens the app); "
        "null: say nothing.",
    )
    welcome: str | None = Field(
        None, description="Sent when members join a group; {names} is who joined. null: off."
    )
    reset_on_removal: bool = Field(
        True, description="Reset a group's conversations when the bot is removed from it."
    )
    app_greeting: str | None = Field(
        None, description="Sent once to a WeCom user who opens the app (enter_agent); null: off."
    )


class WebchatConfig(Section):
    enabled: bool = Field(True, description="Serve the web chat page at / and its WebSocket.")
    require_key: bool | None = Field(
        None, description="Ask for an API key on the page; default: only when not on loopback."
    )
    title: str = Field("ai-bot", description="Name shown in the page header.")


class Config(Section):
    server: ServerConfig = Field(
        default_factory=ServerConfig, description="Where the gateway listens."
    )
    storage: StorageConfig = Field(
        default_factory=StorageConfig, description="Where conversations, inbox and outbox live."
    )
    redis: RedisConfig = Field(
        default_factory=RedisConfig, description="Shared state for several replicas (optional)."
    )
    api: ApiConfig = Field(default_factory=ApiConfig, description="Credentials for the HTTP APIs.")
    models: ModelsConfig = Field(
        default_factory=ModelsConfig, description="Model providers, the default, the fallbacks."
    )
    session: SessionConfig = Field(
        default_factory=SessionConfig, description="Conversation memory."
    )
    dispatcher: DispatcherConfig = Field(
        default_factory=DispatcherConfig, description="Concurrency and back-pressure."
    )
    outbox: OutboxConfig = Field(
        default_factory=OutboxConfig, description="Reply delivery retries and expiry."
    )
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="What `ai-bot maintenance` deletes."
    )
    logging: LoggingConfig = Field(
        default_factory=LoggingConfig, description="Log level and format."
    )
    webchat: WebchatConfig = Field(default_factory=WebchatConfig, description="The web chat page.")
    admin: AdminConfig = Field(
        default_factory=AdminConfig, description="The admin console (/admin)."
    )
    channels: ChannelsConfig = Field(
        default_factory=ChannelsConfig, description="Chat platforms and integrations."
    )
    policy: PolicyConfig = Field(
        default_factory=PolicyConfig, description="Sensitive words, rate limits, access, cache."
    )
    events: EventsConfig = Field(
        default_factory=EventsConfig, description="Greetings and cleanup on platform events."
    )
    routes: list[RouteConfig] = Field(
        default_factory=list, description="Per-message routing; the first match wins."
    )

    @model_validator(mode="after")
    def _routes_name_providers(self) -> Config:
        known = self.models.providers
        for route in self.routes:
            if route.provider is not None and route.provider not in known:
                raise ValueError(
                    f"routes: '{route.name}' names provider '{route.provider}', "
                    f"not one of models.providers ({', '.join(known) or 'none'})"
                )
        return self

    @model_validator(mode="after")
    def _webhooks_need_a_public_url(self) -> Config:
        if self.server.public_url:
            return self
        for channel in self.channels.configured().values():
            problem = channel.public_url_problem()
            if problem:
                raise ValueError(problem)
        return self

    def secrets(self) -> list[str]:
        """Every secret value in the config (keys, and passwords inside storage/redis URLs),
        for the log masker: errors and logs may quote any of them."""
        values = [k.get_secret_value() for k in self.api.keys]
        values += [
            p.api_key.get_secret_value() for p in self.models.providers.values() if p.api_key
        ]
        for channel in self.channels.configured().values():
            values += channel.secret_values()
        values += [p for p in map(url_password, (self.storage.url, self.redis.url or "")) if p]
        return values


def url_password(url: str) -> str | None:
    """The password in a storage/redis URL, so it can be masked wherever the URL is shown."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


class LoadedConfig(BaseModel):
    """The validated config plus where it came from and which `${VAR}`s were unset."""

    config: Config
    path: Path | None
    missing_env: list[str] = Field(default_factory=list)


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


def format_validation_error(error: ValidationError, source: str) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "(top level)"
        got = problem.get("input")
        shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            message = "unknown key (check spelling; see `ai-bot config`)"
        lines.append(f"{source}: {where}: {message}{shown}")
    return "\n".join(lines)


def resolve_config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """`-c` beats `$AIBOT_CONFIG` beats `./config.yaml`; None means run on defaults."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (create one with `ai-bot init`)")
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
            env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    env.update(os.environ)
    return env


def load_config(explicit: str | os.PathLike[str] | None = None) -> LoadedConfig:
    path = resolve_config_path(explicit)
    raw: Any = {}
    if path is not None:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}:{where}: invalid YAML: {problem}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
    env = build_environment(path.parent if path else Path("."))
    missing: list[str] = []
    data = interpolate(raw, env, missing)
    if path is None:
        data = default_config_from_env(env)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(path or "defaults"))) from None
    return LoadedConfig(config=config, path=path, missing_env=missing)


def default_config_from_env(env: Mapping[str, str]) -> dict[str, Any]:
    """With no config file, pick up well-known provider keys so `ai-bot run` just works."""
    from aibot.config.presets import PRESETS

    providers: dict[str, Any] = {}
    for name, preset in PRESETS.items():
        if preset.env_key and env.get(preset.env_key):
            providers[name] = {"preset": name, "api_key": env[preset.env_key]}
    data: dict[str, Any] = {"models": {"providers": providers}}
    if providers:
        data["models"]["default"] = next(iter(providers))
    if env.get("AIBOT_API_KEY"):
        data["api"] = {"keys": [env["AIBOT_API_KEY"]]}
    return data
