"""`ai-bot init`: ask a few questions, check the key live, write config.yaml and .env.

The key is checked before anything is written, so a typo is found now and not at the first
chat message. Secrets go only into `.env` (mode 0600); config.yaml refers to them as `${NAME}`
and can be shared or committed.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import typer
from dotenv import dotenv_values
from rich.markup import escape
from rich.prompt import IntPrompt, Prompt
from rich.table import Table

from aibot.cli.common import console, err_console, fail
from aibot.cli.init_files import (
    GATEWAY_KEY_VAR,
    TELEGRAM_TOKEN_VAR,
    ProviderChoice,
    render_config,
    update_dotenv,
)
from aibot.cli.probe import ProbeFailure, describe_failure, probe
from aibot.config.presets import PRESETS, Preset
from aibot.i18n import terminal_language, translate
from aibot.ops.logging import mask_value
from aibot.providers.base import ProviderError

CUSTOM = "custom"
MAX_TURNS_RANGE = (0, 1000)
PORT_RANGE = (1, 65535)
DEFAULT_MAX_TURNS = 20
TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
DEFAULT_PORT = 18789


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
            hint = translate(
                terminal_language(),
                "nothing was written; fix the key, base URL or model, or add --no-verify to "
                "write the files without this check",
            )
            fail(f"{failure} — {hint}", code=1)
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
