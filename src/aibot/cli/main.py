"""The `ai-bot` command. Heavy imports happen inside commands so `--help` stays instant."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from aibot import __version__
from aibot.cli.admin import admin_app
from aibot.cli.archive import archive as archive_command
from aibot.cli.archive import restore_archive as restore_archive_command
from aibot.cli.backup import backup as backup_command
from aibot.cli.backup import maintenance as maintenance_command
from aibot.cli.backup import restore as restore_command
from aibot.cli.canary import canary_app
from aibot.cli.common import ConfigOption, console, fail, load_or_exit
from aibot.cli.data_key import data_key_app
from aibot.cli.deploy import deploy as deploy_command
from aibot.cli.eval import evaluate as eval_command
from aibot.cli.pairing import pairing_app
from aibot.i18n import terminal_language, translate

app = typer.Typer(
    name="ai-bot",
    help="Self-hosted AI assistant gateway: web chat, REST and OpenAI-compatible API, "
    "chat platforms, any OpenAI-compatible model.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
app.add_typer(pairing_app)
app.add_typer(canary_app)
app.add_typer(admin_app)
app.add_typer(data_key_app)


def _version(value: bool) -> None:
    if value:
        console.print(f"ai-bot {__version__}")
        raise typer.Exit


@app.callback()
def root(
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """ai-bot: run `ai-bot init` once, then `ai-bot run`."""


@app.command()
def run(
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option(envvar="AIBOT_HOST", help="Override server.host.")
    ] = None,
    port: Annotated[
        int | None, typer.Option(envvar="AIBOT_PORT", help="Override server.port.")
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            envvar="AIBOT_TRUSTED_PROXIES",
            help="A reverse proxy (IP or CIDR) whose X-Forwarded-For/-Proto are believed; "
            "repeat for several; added to server.trusted_proxies.",
        ),
    ] = None,
) -> None:
    """Start the gateway (web chat, APIs, channels) until Ctrl-C or SIGTERM.

    Without a config file it runs on defaults: SQLite under ./data, 127.0.0.1:18789, and any
    provider key found in the environment or .env (e.g. DEEPSEEK_API_KEY).
    """
    from aibot.cli.serve import serve

    loaded = load_or_exit(config)
    if host is not None:
        loaded.config.server.host = host
    if port is not None:
        loaded.config.server.port = port
    for proxy in trusted_proxy or ():
        try:
            ipaddress.ip_network(proxy.strip(), strict=False)
        except ValueError:
            fail(
                translate(
                    terminal_language(),
                    "--trusted-proxy: not an IP address or network: {value}",
                    value=proxy,
                )
            )
        loaded.config.server.trusted_proxies.append(proxy.strip())
    serve(loaded)


@app.command()
def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write config.yaml.")] = Path(
        "config.yaml"
    ),
    non_interactive: Annotated[
        bool,
        typer.Option("--non-interactive", help="Take every answer from the flags (for scripts)."),
    ] = False,
    preset: Annotated[str | None, typer.Option(help="Provider preset, e.g. deepseek.")] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help="The provider's API key (stored in .env, not in config.yaml)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name; the preset's default if unset.")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="Base URL; overrides the preset.")] = None,
    max_turns: Annotated[
        int | None, typer.Option(help="Exchanges kept as context [default: 20].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Gateway port [default: 18789].")] = None,
    telegram_token: Annotated[
        str | None,
        typer.Option(
            help="Telegram bot token from @BotFather (stored in .env); empty skips Telegram."
        ),
    ] = None,
    verify: Annotated[
        bool, typer.Option(help="Check the key with one cheap request to the provider.")
    ] = True,
    force: Annotated[bool, typer.Option(help="Overwrite an existing config.yaml.")] = False,
) -> None:
    """Write config.yaml and .env: provider, key (verified live), context length, port."""
    from aibot.cli.init import InitAnswers, run_wizard

    answers = InitAnswers(
        preset=preset,
        api_key=api_key,
        model=model,
        base_url=base_url,
        max_turns=max_turns,
        port=port,
        telegram_token=telegram_token,
    )
    run_wizard(path, answers, interactive=not non_interactive, verify=verify, force=force)


@app.command()
def chat(config: ConfigOption = None) -> None:
    """Talk to the configured model in the terminal, through the same pipeline and memory."""
    from aibot.cli.chat import run_chat

    run_chat(load_or_exit(config))


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check the config, the store and every model provider, and say what to fix."""
    from aibot.cli.doctor import run_doctor

    raise typer.Exit(run_doctor(load_or_exit(config)))


@app.command("config")
def show_config(
    config: ConfigOption = None,
    schema: Annotated[
        bool, typer.Option(help="List every key with its default and meaning.")
    ] = False,
) -> None:
    """Show the effective configuration (secrets masked), or with --schema every option."""
    from aibot.cli.config_view import print_effective, print_schema

    if schema:
        print_schema()
        return
    print_effective(load_or_exit(config))


app.command()(deploy_command)
app.command()(backup_command)
app.command()(restore_command)
app.command()(maintenance_command)
app.command()(archive_command)
app.command("restore-archive")(restore_archive_command)
app.command("eval")(eval_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        fail("interrupted", code=130)
