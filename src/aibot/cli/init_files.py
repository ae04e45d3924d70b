"""What `ai-bot init` writes: the chosen provider, config.yaml as commented text, and the
secrets in `.env` (mode 0600)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from aibot.cli.common import fail, tr
from aibot.config import ProviderConfig
from aibot.config.presets import Preset

CUSTOM_KEY_VAR = "AIBOT_MODEL_API_KEY"
GATEWAY_KEY_VAR = "AIBOT_API_KEY"
TELEGRAM_TOKEN_VAR = "TELEGRAM_BOT_TOKEN"  # noqa: S105 - a variable name
TELEGRAM_SECTION = f"""
  # Telegram: the bot made with @BotFather. polling needs no public address; groups answer
  # when the bot is @-mentioned or replied to (channels.telegram.group_trigger).
  telegram:
    bot_token: "${{{TELEGRAM_TOKEN_VAR}}}"   # the value is in .env
    mode: polling
"""
# Characters python-dotenv reads back unchanged without quotes (no `#`, `$`, quotes, spaces).
_PLAIN_DOTENV_VALUE = re.compile(r"[A-Za-z0-9_\-.:/+=~@,]+")
_DOTENV_NAME = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


@dataclass(frozen=True)
class ProviderChoice:
    """The resolved provider: what config.yaml names and what the live check calls."""

    name: str
    preset: Preset | None
    base_url: str | None  # only when it overrides the preset (always for custom)
    api_key: str  # "" when the server needs none
    model: str

    @property
    def key_var(self) -> str:
        """The `.env` name: the vendor's usual one, so existing shell setups keep working."""
        if self.preset is not None and self.preset.env_key:
            return self.preset.env_key
        return CUSTOM_KEY_VAR

    @property
    def effective_base_url(self) -> str:
        return self.base_url or (self.preset.base_url if self.preset else "")

    def provider_config(self) -> ProviderConfig:
        return ProviderConfig(
            preset=self.preset.name if self.preset else None,
            base_url=self.base_url,
            api_key=SecretStr(self.api_key) if self.api_key else None,
            model=self.model,
        )


def update_dotenv(path: Path, values: Mapping[str, str]) -> None:
    """Set `values` in a .env file, keeping every other line; the file ends up mode 0600."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    found: set[str] = set()
    for index, line in enumerate(lines):
        match = _DOTENV_NAME.match(line)
        if match and match.group(1) in values:  # every duplicate too: the last one would win
            name = match.group(1)
            lines[index] = f"{name}={_dotenv_value(values[name])}"
            found.add(name)
    lines += [
        f"{name}={_dotenv_value(value)}" for name, value in values.items() if name not in found
    ]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing, more open file is tightened too: it holds secrets
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _dotenv_value(value: str) -> str:
    """Unquoted when safe; single quotes otherwise, which python-dotenv reads literally."""
    if _PLAIN_DOTENV_VALUE.fullmatch(value):
        return value
    if "'" in value or "\n" in value:
        fail(tr("the key contains a quote or a line break; check what was pasted"))
    return f"'{value}'"


def _yaml_str(value: str) -> str:
    """A JSON string is a valid double-quoted YAML scalar: safe for any URL or model name."""
    return json.dumps(value, ensure_ascii=False)


def render_config(
    choice: ProviderChoice, *, port: int, max_turns: int, telegram: bool = False
) -> str:
    """config.yaml as commented text, so the file explains itself to whoever opens it next."""
    provider = [f"    {choice.name}:"]
    if choice.preset is not None:
        provider.append(f"      preset: {choice.preset.name}")
    provider.append(
        f"      base_url: {_yaml_str(choice.base_url)}"
        if choice.base_url
        else f"      # base_url: {_yaml_str(choice.effective_base_url)}   # the preset's"
    )
    if choice.api_key:
        provider.append(f'      api_key: "${{{choice.key_var}}}"   # the value is in .env')
    provider.append(f"      model: {_yaml_str(choice.model)}")
    providers = "\n".join(provider)
    return f"""\
# ai-bot configuration, written by `ai-bot init`.
# Every key is optional: `ai-bot config --schema` lists them all, `ai-bot config` shows the
# effective result. ${{NAME}} is read from the environment or from .env beside this file, which
# is where the secrets live; this file holds none and can be shared.

# Where the gateway listens (web chat, API, webhooks). 127.0.0.1 keeps it on this machine;
# 0.0.0.0 exposes it to the network (keep channels.api.keys set then).
server:
  host: 127.0.0.1
  port: {port}

# Conversations, inbox and outbox. SQLite needs no setup; postgresql://... for several replicas.
storage:
  url: "sqlite:///data/ai-bot.db"

# Language models. `default` names one of `providers`; add more providers and list them in
# `fallbacks: [...]` to fail over when the default is down.
models:
  default: {choice.name}
  providers:
{providers}

# Conversation memory: exchanges kept as context, and the silence after which a chat starts fresh.
session:
  max_turns: {max_turns}
  idle_reset: 30m

# Where people reach the assistant. `api.keys`: bearer keys for /v1/chat/completions, /api/v1
# and the web page; the chat platforms follow.
channels:
  api:
    keys: ["${{{GATEWAY_KEY_VAR}}}"]
""" + (TELEGRAM_SECTION if telegram else "")
