"""The `ai-bot` command. Heavy imports happen inside commands so `--help` stays instant."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from aibot import __version__
from aibot.cli.admin import admin_app
from aibot.cli.archive import ARCHIVE_HELP, RESTORE_ARCHIVE_HELP
from aibot.cli.archive import archive as archive_command
from aibot.cli.archive import restore_archive as restore_archive_command
from aibot.cli.backup import BACKUP_HELP, MAINTENANCE_HELP, RESTORE_HELP
from aibot.cli.backup import backup as backup_command
from aibot.cli.backup import maintenance as maintenance_command
from aibot.cli.backup import restore as restore_command
from aibot.cli.canary import canary_app
from aibot.cli.common import ConfigOption, console, fail, follow_ui_language, load_or_exit, tr
from aibot.cli.data_key import data_key_app
from aibot.cli.deploy import DEPLOY_HELP
from aibot.cli.deploy import deploy as deploy_command
from aibot.cli.eval import EVAL_HELP
from aibot.cli.eval import evaluate as eval_command
from aibot.cli.help_text import install as install_help
from aibot.cli.pairing import pairing_app
from aibot.cli.usage_errors import LocalizedGroup
from aibot.i18n import N_
from aibot.ops.gc_tuning import no_collections_while_starting

APP_HELP = N_(
    "Self-hosted AI assistant gateway: web chat, REST and OpenAI-compatible API, chat "
    "platforms, any OpenAI-compatible model. Start with `ai-bot init`, then `ai-bot run`."
)
install_help()
app = typer.Typer(
    name="ai-bot",
    cls=LocalizedGroup,
    help=APP_HELP,
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


@app.callback(help=APP_HELP)
def root(
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help=N_("Print the version and exit.")
        ),
    ] = False,
) -> None:
    """The options of `ai-bot` itself."""


@app.command(
    help=N_(
        "Start the gateway (web chat, APIs, channels) until Ctrl-C or SIGTERM.\n\n"
        "Without a config file it runs on defaults: SQLite under ./data, 127.0.0.1:18789, and "
        "any provider key found in the environment or .env (e.g. DEEPSEEK_API_KEY)."
    )
)
def run(
    config: ConfigOption = None,
    host: Annotated[
        str | None, typer.Option(envvar="AIBOT_HOST", help=N_("Override server.host."))
    ] = None,
    port: Annotated[
        int | None, typer.Option(envvar="AIBOT_PORT", help=N_("Override server.port."))
    ] = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            envvar="AIBOT_TRUSTED_PROXIES",
            help=N_(
                "A reverse proxy (IP or CIDR) whose X-Forwarded-For/-Proto are believed; "
                "repeat for several; added to server.trusted_proxies."
            ),
        ),
    ] = None,
) -> None:
    with no_collections_while_starting():
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
                fail(tr("--trusted-proxy: not an IP address or network: {value}", value=proxy))
            loaded.config.server.trusted_proxies.append(proxy.strip())
        serve(loaded)


@app.command(
    help=N_("Write config.yaml and .env: provider, key (verified live), context length, port.")
)
def init(
    path: Annotated[Path, typer.Option("--path", help=N_("Where to write config.yaml."))] = Path(
        "config.yaml"
    ),
    non_interactive: Annotated[
        bool,
        typer.Option(
            "--non-interactive", help=N_("Take every answer from the flags (for scripts).")
        ),
    ] = False,
    preset: Annotated[str | None, typer.Option(help=N_("Provider preset, e.g. deepseek."))] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help=N_("The provider's API key (stored in .env, not in config.yaml).")),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help=N_("Model name; the preset's default if unset."))
    ] = None,
    base_url: Annotated[
        str | None, typer.Option(help=N_("Base URL; overrides the preset."))
    ] = None,
    max_turns: Annotated[
        int | None,
        typer.Option(help=N_("Exchanges kept as context (default: 20).")),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            help=N_(
                "Gateway port; when asked, the first free one from 18789 is offered "
                "(default: 18789)."
            ),
        ),
    ] = None,
    telegram_token: Annotated[
        str | None,
        typer.Option(
            help=N_("Telegram bot token from @BotFather (stored in .env); empty skips Telegram.")
        ),
    ] = None,
    verify: Annotated[
        bool, typer.Option(help=N_("Check the key with one cheap request to the provider."))
    ] = True,
    force: Annotated[bool, typer.Option(help=N_("Overwrite an existing config.yaml."))] = False,
) -> None:
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


@app.command(
    help=N_("Talk to the configured model in the terminal, through the same pipeline and memory.")
)
def chat(config: ConfigOption = None) -> None:
    from aibot.cli.chat import run_chat

    run_chat(load_or_exit(config))


@app.command(help=N_("Check the config, the store and every model provider, and say what to fix."))
def doctor(config: ConfigOption = None) -> None:
    from aibot.cli.doctor import run_doctor

    raise typer.Exit(run_doctor(load_or_exit(config)))


@app.command(
    "config",
    help=N_("Show the effective configuration (secrets masked), or with --schema every option."),
)
def show_config(
    config: ConfigOption = None,
    schema: Annotated[
        bool, typer.Option(help=N_("List every key with its default and meaning."))
    ] = False,
) -> None:
    from aibot.cli.config_view import print_effective, print_schema

    if schema:
        follow_ui_language(config)
        print_schema()
        return
    print_effective(load_or_exit(config))


app.command(help=DEPLOY_HELP)(deploy_command)
app.command(help=BACKUP_HELP)(backup_command)
app.command(help=RESTORE_HELP)(restore_command)
app.command(help=MAINTENANCE_HELP)(maintenance_command)
app.command(help=ARCHIVE_HELP)(archive_command)
app.command("restore-archive", help=RESTORE_ARCHIVE_HELP)(restore_archive_command)
app.command("eval", help=EVAL_HELP)(eval_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        fail(tr("interrupted"), code=130)
