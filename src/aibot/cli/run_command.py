"""`ai-bot` with only its `run` command: what `ai-bot run …` builds (aibot.cli.main), and what
`aibot.cli.commands` adds every other command to."""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from aibot import __version__
from aibot.cli.common import ConfigOption, console, fail, load_or_exit, tr
from aibot.cli.help_text import install as install_help
from aibot.cli.usage_errors import LocalizedGroup
from aibot.i18n import N_
from aibot.ops.gc_tuning import no_collections_while_starting

APP_HELP = N_(
    "Self-hosted AI assistant gateway: web chat, REST and OpenAI-compatible API, chat "
    "platforms, any OpenAI-compatible model. Start with `ai-bot init`, then `ai-bot run`."
)
RUN_HELP = N_(
    "Start the gateway (web chat, APIs, channels) until Ctrl-C or SIGTERM.\n\n"
    "Without a config file it runs on defaults: SQLite under ./data, 127.0.0.1:18789, and "
    "any provider key found in the environment or .env (e.g. DEEPSEEK_API_KEY)."
)


def _version(value: bool) -> None:
    if value:
        console.print(f"ai-bot {__version__}")
        raise typer.Exit


def root(
    _version_flag: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help=N_("Print the version and exit.")
        ),
    ] = False,
) -> None:
    """The options of `ai-bot` itself."""


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
        loaded = load_or_exit(config)  # a refused config is said before the server's imports
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
        from aibot.cli.serve import serve

        serve(loaded)


def command_line() -> typer.Typer:
    """`ai-bot` with `run` as its only command: all `ai-bot run …` needs, and what
    `aibot.cli.commands` adds the others to."""
    install_help()
    app = typer.Typer(
        name="ai-bot",
        cls=LocalizedGroup,
        help=APP_HELP,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode="rich",
    )
    app.callback(help=APP_HELP)(root)
    app.command(help=RUN_HELP)(run)
    return app
