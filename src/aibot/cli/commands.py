"""Every `ai-bot` command: `run` (aibot.cli.run_command) and the others, for any command line but
`ai-bot run …`, which builds only itself."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aibot.cli.admin import admin_app
from aibot.cli.archive import ARCHIVE_HELP, RESTORE_ARCHIVE_HELP
from aibot.cli.archive import archive as archive_command
from aibot.cli.archive import restore_archive as restore_archive_command
from aibot.cli.backup import BACKUP_HELP, MAINTENANCE_HELP, RESTORE_HELP
from aibot.cli.backup import backup as backup_command
from aibot.cli.backup import maintenance as maintenance_command
from aibot.cli.backup import restore as restore_command
from aibot.cli.canary import canary_app
from aibot.cli.common import follow_ui_language, load_or_exit
from aibot.cli.data_key import data_key_app
from aibot.cli.deploy import DEPLOY_HELP
from aibot.cli.deploy import deploy as deploy_command
from aibot.cli.eval import EVAL_HELP
from aibot.cli.eval import evaluate as eval_command
from aibot.cli.options import ConfigOption
from aibot.cli.pairing import pairing_app
from aibot.cli.run_command import command_line
from aibot.i18n import N_

app = command_line()
app.add_typer(pairing_app)
app.add_typer(canary_app)
app.add_typer(admin_app)
app.add_typer(data_key_app)


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
