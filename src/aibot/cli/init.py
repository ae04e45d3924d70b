"""`ai-bot init`: ask a few questions, check the key live, write config.yaml and .env.

The key is checked before anything is written, so a typo is found now and not at the first
chat message. Secrets go only into `.env` (mode 0600); config.yaml refers to them as `${NAME}`
and can be shared or committed.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, replace
from pathlib import Path

import typer
from dotenv import dotenv_values
from rich.markup import escape

from aibot.cli.common import console, err_console, fail, listed, tr
from aibot.cli.init_ask import (
    CUSTOM,
    Ask,
    ask_base_url,
    ask_int,
    ask_key,
    ask_port,
    ask_preset,
    ask_telegram_token,
    busy_port_line,
    key_hint,
    port_free,
)
from aibot.cli.init_files import (
    GATEWAY_KEY_VAR,
    TELEGRAM_TOKEN_VAR,
    ProviderChoice,
    render_config,
    update_dotenv,
)
from aibot.cli.probe import ProbeFailure, describe_failure, probe
from aibot.config.presets import PRESETS, Preset
from aibot.ops.logging import mask_value
from aibot.providers.base import ProviderError

MAX_TURNS_RANGE = (0, 1000)
PORT_RANGE = (1, 65535)
DEFAULT_MAX_TURNS = 20
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
            tr(
                "input ended before every question was answered "
                "(for scripts use --non-interactive with flags)"
            )
        )
    if not interactive and not port_free(answers.port_or_default):
        err_console.print(busy_port_line(answers.port_or_default), highlight=False)
    env_path = path.parent / ".env"
    gateway_key, generated = _write_files(path, env_path, choice, answers)
    _print_done(path, env_path, answers.port_or_default, gateway_key, generated)


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.is_dir():
        fail(
            tr(
                "{path} is a directory: pass a file name, e.g. --path {example}",
                path=str(path),
                example=str(path / "config.yaml"),
            )
        )
    if path.exists() and not force:
        fail(
            tr(
                "{path} already exists: add --force to overwrite it, or --path to write elsewhere",
                path=str(path),
            )
        )


def _check_ranges(answers: InitAnswers) -> None:
    for flag, value, (low, high) in (
        ("--max-turns", answers.turns_or_default, MAX_TURNS_RANGE),
        ("--port", answers.port_or_default, PORT_RANGE),
    ):
        if not low <= value <= high:
            fail(
                tr(
                    "{flag} must be between {low} and {high} (got {value})",
                    flag=flag,
                    low=low,
                    high=high,
                    value=value,
                )
            )


def _preset(name: str) -> Preset:
    preset = PRESETS.get(name)
    if preset is None:
        fail(
            tr(
                "--preset: unknown preset {name} (known: {known}; or use --base-url for any "
                "OpenAI-compatible server)",
                name=repr(name),
                known=listed(PRESETS),
            )
        )
    return preset


def _resolve(answers: InitAnswers) -> ProviderChoice:
    """Validate the complete answers; whatever is still missing is named by its flag."""
    preset_name = None if answers.preset == CUSTOM else answers.preset
    if not preset_name and not answers.base_url:
        fail(
            tr(
                "missing --preset (one of: {known}) or --base-url (any OpenAI-compatible server)",
                known=listed(PRESETS),
            )
        )
    preset = _preset(preset_name) if preset_name else None
    if answers.base_url and not answers.base_url.startswith(("http://", "https://")):
        fail(
            tr(
                "--base-url must start with http:// or https:// (got {url})",
                url=repr(answers.base_url),
            )
        )
    api_key = (answers.api_key or "").strip()
    if preset is not None and preset.needs_key and not api_key:
        where = tr(" (get one at {url})", url=preset.key_url) if preset.key_url else ""
        fail(
            tr(
                "missing --api-key: the {preset} preset needs one{where}; it is stored in .env "
                "as {variable}",
                preset=preset.name,
                where=where,
                variable=preset.env_key,
            )
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
        preset_name = ask_preset()
    if preset_name == CUSTOM:
        preset_name, base_url = None, base_url or ask_base_url()
    preset = _preset(preset_name) if preset_name else None
    api_key = answers.api_key
    if api_key is None and (preset is None or preset.needs_key):
        key_hint(preset)
        api_key = ask_key(required=preset is not None)
    model = answers.model or Ask.ask(
        tr("Model"), console=console, default=preset.model if preset else "default"
    )
    return replace(
        answers,
        preset=preset_name,
        base_url=base_url,
        api_key=api_key,
        model=model,
        max_turns=answers.max_turns
        if answers.max_turns is not None
        else ask_int(tr("Context length (turns kept)"), DEFAULT_MAX_TURNS, MAX_TURNS_RANGE),
        port=answers.port if answers.port is not None else ask_port(DEFAULT_PORT, PORT_RANGE),
        telegram_token=answers.telegram_token
        if answers.telegram_token is not None
        else ask_telegram_token(),
    )


def _verified(choice: ProviderChoice, *, interactive: bool) -> ProviderChoice:
    """Check the key live; interactively the user may fix the URL or the key, or keep the
    answers unchecked."""
    while True:
        checking = tr(
            "checking {model} at {url} …", model=choice.model, url=choice.effective_base_url
        )
        with console.status(escape(checking)):
            failure = _check_choice(choice)
        if failure is None:
            console.print(
                "[green]✔[/] "
                + escape(tr("{name} answered: the key and model work", name=choice.name))
            )
            return choice
        if not interactive:
            hint = tr(
                "nothing was written; fix the key, base URL or model, or add --no-verify to "
                "write the files without this check"
            )
            fail(f"{failure} — {hint}", code=1)
        err_console.print(f"[bold red]✘[/] {escape(str(failure))}", highlight=False, soft_wrap=True)
        action = Ask.ask(
            escape(
                tr(
                    "Re-enter the base URL (u) or the key (k), save without the check (s), "
                    "or quit (q)"
                )
            ),
            console=console,
            choices=["u", "k", "s", "q"],
            default="u" if failure.culprit == "url" else "k",
        )
        if action == "s":
            return choice
        if action == "q":
            raise typer.Exit(1)
        if action == "u":
            choice = replace(choice, base_url=ask_base_url(choice.effective_base_url))
        else:
            key_hint(choice.preset)
            choice = replace(choice, api_key=ask_key(required=True))


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
        fail(
            tr("cannot write {path}: {reason}", path=str(exc.filename or path), reason=exc.strerror)
        )
    return gateway_key, generated


def _print_done(path: Path, env_path: Path, port: int, gateway_key: str, generated: bool) -> None:
    config_name, env_name = str(path), str(env_path)
    wrote = tr(
        "wrote {config} and {env} (secrets only in {env}, mode 0600)",
        config=config_name,
        env=env_name,
    )
    console.print("[green]✔[/] " + escape(wrote), soft_wrap=True)
    url = f"http://127.0.0.1:{port}"
    if generated:
        console.print(
            "\n"
            + tr(
                "Your gateway API key ({variable} in {env}; shown once):",
                variable=GATEWAY_KEY_VAR,
                env=env_name,
            ),
            markup=False,
            soft_wrap=True,
        )
        console.print(f"  {gateway_key}", markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(
            "\n"
            + tr(
                "Kept the gateway API key already in {env} ({variable}={masked}).",
                env=env_name,
                variable=GATEWAY_KEY_VAR,
                masked=mask_value(gateway_key),
            ),
            markup=False,
            soft_wrap=True,
        )
    shown_key = (
        gateway_key
        if generated
        else tr("<{variable} from {env}>", variable=GATEWAY_KEY_VAR, env=str(env_path))
    )
    console.print(tr("Call the OpenAI-compatible API with it:"), markup=False)
    example = (  # a command, not words to translate
        f'  curl {url}/v1/chat/completions -H "Authorization: Bearer {shown_key}" '
        "-H 'Content-Type: application/json' "
        """-d '{"messages": [{"role": "user", "content": "Hello"}]}'"""
    )
    console.print(
        example,
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    run = "ai-bot run" if path == Path("config.yaml") else f"ai-bot run -c {path}"
    console.print(
        "\n" + tr("Next: {command}, then open {url}/", command=run, url=url),
        markup=False,
        soft_wrap=True,
    )
