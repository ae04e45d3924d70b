"""`ai-bot init`: ask a few questions, check the key live, write config.yaml and .env.

The key is checked before anything is written, so a typo is found now and not at the first
chat message. Secrets go only into `.env` (mode 0600); config.yaml refers to them as `${NAME}`
and can be shared or committed.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import typer
from dotenv import dotenv_values
from pydantic import SecretStr
from rich.markup import escape
from rich.prompt import IntPrompt, Prompt
from rich.table import Table

from aibot.cli.common import console, err_console, fail
from aibot.config import ProviderConfig
from aibot.config.presets import PRESETS, Preset
from aibot.ops.logging import mask_value
from aibot.providers.base import ChatRequest, Message, ProviderError
from aibot.providers.openai_compat import OpenAICompatibleProvider

CUSTOM = "custom"
CUSTOM_KEY_VAR = "AIBOT_MODEL_API_KEY"
GATEWAY_KEY_VAR = "AIBOT_API_KEY"
PROBE_TIMEOUT = 15.0
MAX_TURNS_RANGE = (0, 1000)
PORT_RANGE = (1, 65535)
DEFAULT_MAX_TURNS = 20
TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
TELEGRAM_TOKEN_VAR = "TELEGRAM_BOT_TOKEN"  # noqa: S105 - a variable name
TELEGRAM_SECTION = f"""
  # Telegram: the bot made with @BotFather. polling needs no public address; groups answer
  # when the bot is @-mentioned or replied to (channels.telegram.group_trigger).
  telegram:
    bot_token: "${{{TELEGRAM_TOKEN_VAR}}}"   # the value is in .env
    mode: polling
"""
DEFAULT_PORT = 18789
# Characters python-dotenv reads back unchanged without quotes (no `#`, `$`, quotes, spaces).
_PLAIN_DOTENV_VALUE = re.compile(r"[A-Za-z0-9_\-.:/+=~@,]+")
_DOTENV_NAME = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")


@dataclass
class InitAnswers:
    """What the command line already answered; None means "ask" (or fail when non-interactive)."""

    preset: str | None
    api_key: str | None
    model: str | None
    base_url: str | None
    max_turns: int | None
    port: int | None
    telegram_token: str | None = None

    @property
    def turns_or_default(self) -> int:
        return DEFAULT_MAX_TURNS if self.max_turns is None else self.max_turns

    @property
    def port_or_default(self) -> int:
        return DEFAULT_PORT if self.port is None else self.port


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


@dataclass(frozen=True)
class ProbeFailure:
    """Why a live check failed, split so `doctor` can show the fix in its own column."""

    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.problem}: {self.fix}"


# --------------------------------------------------------------------------- live check


@dataclass(frozen=True)
class Probed:
    latency: float  # seconds
    clock_skew: float | None  # this machine's clock minus the server's Date header, seconds


async def probe(name: str, config: ProviderConfig) -> Probed:
    """One `max_tokens=1` completion, the cheapest call that proves URL, key and model.

    Raises `ProviderError`. Retries are off and the timeout short so a dead endpoint is
    reported in seconds, not after the gateway's long model timeout.
    """
    quick = config.model_copy(update={"timeout": PROBE_TIMEOUT, "max_retries": 0})
    provider = OpenAICompatibleProvider(name, quick)
    started = time.perf_counter()
    try:
        await provider.chat(ChatRequest(messages=[Message("user", "ping")], max_tokens=1))
    finally:
        await provider.close()
    latency = time.perf_counter() - started
    return Probed(latency, _skew(provider.server_date, time.time()))


def _skew(server_date: str | None, now: float) -> float | None:
    """Date has whole seconds and is stamped before the body is sent: well inside the 30 s
    that matter for webhook signatures."""
    try:
        parsed = email.utils.parsedate_to_datetime(server_date) if server_date else None
    except (TypeError, ValueError):
        return None
    return None if parsed is None or parsed.tzinfo is None else now - parsed.timestamp()


def describe_failure(error: ProviderError, base_url: str, model: str) -> ProbeFailure:
    """Turn a failed check into the cause a user can act on, by HTTP status."""
    detail = str(error).removeprefix(f"{error.provider}: ")
    status = error.status
    if status in (401, 403):
        return ProbeFailure(
            f"the provider refused the key (HTTP {status})",
            "check it / regenerate it at the vendor console",
        )
    if status == 404:
        return ProbeFailure(
            f"HTTP 404 for model {model!r} at {base_url}",
            "the model name or the base URL is wrong (it usually ends in /v1)",
        )
    if status == 429:
        return ProbeFailure(
            f"the provider is rate limiting this key ({detail})",
            "check the balance / quota at the vendor console, or retry later",
        )
    if status is None:
        return ProbeFailure(
            f"cannot reach {base_url} ({detail})", "check the URL, the network, a proxy or firewall"
        )
    if status == 200:
        return ProbeFailure(
            f"{base_url} did not answer in the OpenAI format",
            "check that the base URL is the OpenAI-compatible endpoint",
        )
    return ProbeFailure(f"the provider answered {detail}", "see the provider's message")


def _check_choice(choice: ProviderChoice) -> ProbeFailure | None:
    try:
        asyncio.run(probe(choice.name, choice.provider_config()))
    except ProviderError as exc:
        return describe_failure(exc, choice.effective_base_url, choice.model)
    return None


# --------------------------------------------------------------------------- the wizard


def run_wizard(
    path: Path, answers: InitAnswers, *, interactive: bool, verify: bool, force: bool
) -> None:
    """Ask what the flags left open, verify the key, then write both files (or nothing)."""
    _refuse_overwrite(path, force)
    try:
        if interactive:
            answers = _ask_missing(answers)
        _check_ranges(answers)
        choice = _resolve(answers)
        if verify:
            choice = _verified(choice, interactive=interactive)
    except EOFError:
        fail(
            "input ended before every question was answered "
            "(for scripts use --non-interactive with flags)"
        )
    env_path = path.parent / ".env"
    gateway_key, generated = _write_files(path, env_path, choice, answers)
    _print_done(path, env_path, answers.port_or_default, gateway_key, generated)


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.is_dir():
        fail(f"{path} is a directory: pass a file name, e.g. --path {path / 'config.yaml'}")
    if path.exists() and not force:
        fail(f"{path} already exists: add --force to overwrite it, or --path to write elsewhere")


def _check_ranges(answers: InitAnswers) -> None:
    for flag, value, (low, high) in (
        ("--max-turns", answers.turns_or_default, MAX_TURNS_RANGE),
        ("--port", answers.port_or_default, PORT_RANGE),
    ):
        if not low <= value <= high:
            fail(f"{flag} must be between {low} and {high} (got {value})")


def _preset(name: str) -> Preset:
    preset = PRESETS.get(name)
    if preset is None:
        fail(
            f"--preset: unknown preset {name!r} (known: {', '.join(PRESETS)}; "
            "or use --base-url for any OpenAI-compatible server)"
        )
    return preset


def _resolve(answers: InitAnswers) -> ProviderChoice:
    """Validate the complete answers; whatever is still missing is named by its flag."""
    preset_name = None if answers.preset == CUSTOM else answers.preset
    if not preset_name and not answers.base_url:
        fail(
            f"missing --preset (one of: {', '.join(PRESETS)}) "
            "or --base-url (any OpenAI-compatible server)"
        )
    preset = _preset(preset_name) if preset_name else None
    if answers.base_url and not answers.base_url.startswith(("http://", "https://")):
        fail(f"--base-url must start with http:// or https:// (got {answers.base_url!r})")
    api_key = (answers.api_key or "").strip()
    if preset is not None and preset.needs_key and not api_key:
        fail(
            f"missing --api-key: the {preset.name} preset needs one "
            f"(it is stored in .env as {preset.env_key})"
        )
    return ProviderChoice(
        name=preset.name if preset else CUSTOM,
        preset=preset,
        base_url=answers.base_url.rstrip("/") if answers.base_url else None,
        api_key=api_key,
        model=answers.model or (preset.model if preset else "default"),
    )


def _ask_missing(answers: InitAnswers) -> InitAnswers:
    """Interactive questions, skipping the ones a flag answered."""
    preset_name, base_url = answers.preset, answers.base_url
    if not preset_name and not base_url:
        preset_name = _ask_preset()
    if preset_name == CUSTOM:
        preset_name, base_url = None, base_url or _ask_base_url()
    preset = _preset(preset_name) if preset_name else None
    api_key = answers.api_key
    if api_key is None and (preset is None or preset.needs_key):
        api_key = _ask_key(required=preset is not None)
    model = answers.model or Prompt.ask(
        "Model", console=console, default=preset.model if preset else "default"
    )
    return replace(
        answers,
        preset=preset_name,
        base_url=base_url,
        api_key=api_key,
        model=model,
        max_turns=answers.max_turns
        if answers.max_turns is not None
        else _ask_int("Context length (turns kept)", DEFAULT_MAX_TURNS, MAX_TURNS_RANGE),
        port=answers.port
        if answers.port is not None
        else _ask_int("Gateway port", DEFAULT_PORT, PORT_RANGE),
        telegram_token=answers.telegram_token
        if answers.telegram_token is not None
        else _ask_telegram_token(),
    )


def _ask_preset() -> str:
    names = [*PRESETS, CUSTOM]
    table = Table(title="Model providers", title_justify="left")
    for column in ("#", "name", "provider", "default model", "base URL"):
        table.add_column(column)
    for number, preset in enumerate(PRESETS.values(), start=1):
        table.add_row(str(number), preset.name, preset.title, preset.model, preset.base_url)
    table.add_row(str(len(names)), CUSTOM, "any OpenAI-compatible URL", "", "")
    console.print(table)
    while True:
        reply = Prompt.ask("Provider (number or name)", console=console).strip().lower()
        if reply.isdigit() and 1 <= int(reply) <= len(names):
            return names[int(reply) - 1]
        if reply in names:
            return reply
        err_console.print(f"choose 1-{len(names)} or a name from the table")


def _ask_base_url() -> str:
    while True:
        url = Prompt.ask(
            "Base URL (OpenAI-compatible, e.g. http://127.0.0.1:8000/v1)", console=console
        ).strip()
        if url.startswith(("http://", "https://")):
            return url
        err_console.print("the URL must start with http:// or https://")


def _ask_key(*, required: bool) -> str:
    """Hidden when typed at a terminal; a plain read from a pipe, where nothing echoes anyway
    and getpass would go around the pipe to the controlling terminal."""
    hidden = sys.stdin.isatty()
    label = "API key" + (" (input hidden)" if hidden else "")
    if not required:
        label += " (empty if the server needs none)"
    while True:
        key = Prompt.ask(
            label, console=console, password=hidden, default="", show_default=False
        ).strip()
        if key or not required:
            return key
        err_console.print("this provider needs a key; paste it from the vendor console")


def _ask_telegram_token() -> str:
    hidden = sys.stdin.isatty()
    label = "Telegram bot token from @BotFather (Enter to skip)" + (
        " (input hidden)" if hidden else ""
    )
    while True:
        token = Prompt.ask(
            label, console=console, password=hidden, default="", show_default=False
        ).strip()
        if not token or TELEGRAM_TOKEN.match(token):
            return token
        err_console.print(
            "that is not a bot token (it looks like 123456789:AAE…); Enter skips Telegram"
        )


def _ask_int(label: str, default: int, bounds: tuple[int, int]) -> int:
    low, high = bounds
    while True:
        value = IntPrompt.ask(label, console=console, default=default)
        if low <= value <= high:
            return value
        err_console.print(f"enter a number between {low} and {high}")


def _verified(choice: ProviderChoice, *, interactive: bool) -> ProviderChoice:
    """Check the key live; interactively the user may fix the key or keep the answers."""
    while True:
        with console.status(escape(f"checking {choice.model} at {choice.effective_base_url} …")):
            failure = _check_choice(choice)
        if failure is None:
            console.print(f"[green]✔[/] {choice.name} answered: the key and model work")
            return choice
        if not interactive:
            fail(str(failure), code=1)
        err_console.print(f"[bold red]✘[/] {escape(str(failure))}", highlight=False, soft_wrap=True)
        action = Prompt.ask(
            "Re-enter the [bold]k[/]ey, [bold]s[/]ave anyway, or [bold]q[/]uit",
            console=console,
            choices=["k", "s", "q"],
            default="k",
        )
        if action == "s":
            return choice
        if action == "q":
            raise typer.Exit(1)
        choice = replace(choice, api_key=_ask_key(required=True))


# --------------------------------------------------------------------------- writing


def _write_files(
    path: Path, env_path: Path, choice: ProviderChoice, answers: InitAnswers
) -> tuple[str, bool]:
    """Write .env first: a config.yaml whose `${VAR}`s have no values is the worse half-state."""
    existing = dotenv_values(env_path) if env_path.is_file() else {}
    gateway_key = existing.get(GATEWAY_KEY_VAR) or ""
    generated = not gateway_key
    if generated:
        gateway_key = secrets.token_urlsafe(32)
    values = {GATEWAY_KEY_VAR: gateway_key}
    if choice.api_key:
        values[choice.key_var] = choice.api_key
    if answers.telegram_token:
        values[TELEGRAM_TOKEN_VAR] = answers.telegram_token
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        update_dotenv(env_path, values)
        path.write_text(
            render_config(
                choice,
                port=answers.port_or_default,
                max_turns=answers.turns_or_default,
                telegram=bool(answers.telegram_token),
            ),
            encoding="utf-8",
        )
    except OSError as exc:
        fail(f"cannot write {exc.filename or path}: {exc.strerror}")
    return gateway_key, generated


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
        fail("the key contains a quote or a line break; check what was pasted")
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


def _print_done(path: Path, env_path: Path, port: int, gateway_key: str, generated: bool) -> None:
    config_name, env_name = escape(str(path)), escape(str(env_path))
    console.print(
        f"[green]✔[/] wrote {config_name} and {env_name} (secrets only in {env_name}, mode 0600)",
        soft_wrap=True,
    )
    url = f"http://127.0.0.1:{port}"
    if generated:
        console.print(f"\nYour gateway API key ({GATEWAY_KEY_VAR} in {env_name}; shown once):")
        console.print(f"  {gateway_key}", markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(
            f"\nKept the gateway API key already in {env_name} "
            f"({GATEWAY_KEY_VAR}={mask_value(gateway_key)}).",
            soft_wrap=True,
        )
    shown_key = gateway_key if generated else f"<{GATEWAY_KEY_VAR} from {env_path}>"
    console.print("Call the OpenAI-compatible API with it:")
    console.print(
        f'  curl {url}/v1/chat/completions -H "Authorization: Bearer {shown_key}" '
        "-H 'Content-Type: application/json' "
        """-d '{"messages": [{"role": "user", "content": "Hello"}]}'""",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    run = "ai-bot run" if path == Path("config.yaml") else f"ai-bot run -c {path}"
    console.print(f"\nNext: [bold]{escape(run)}[/], then open {url}/", soft_wrap=True)
