"""`ai-bot run` without typer, when its command line is plain options that parse.

Typer is the command line's help pages and refusals; to run the gateway it only turns a few
options into values. Importing it (its own copy of click included) and building the command
from the function's signature cost ~24 ms of a start's CPU, ~5 % of it. So a plain `ai-bot run
…` is parsed here with click, which uvicorn imports anyway, from the same list of options typer
is given (`RUN_OPTIONS`: aibot.cli.run_command builds typer's `run` from it). Anything else —
`--help`, an option we do not know, a value that does not parse, an extra argument — goes to
typer's `ai-bot` (None from `plain_options`), which says it exactly as before: nothing has been
done yet. An option's value that typer would turn into something else than click (a port
written other than in ASCII digits) goes there too.

The start itself (`start`) is the same function on both paths; how it ends (a refusal's exit
code, Ctrl-C's "Aborted.", a crash's traceback) is said by typer in either case
(`aibot.cli.typer_ending`), which is then imported only for that.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aibot.cli.common import fail, load_or_exit, tr
from aibot.i18n import N_
from aibot.ops.gc_tuning import no_collections_while_starting

RUN_HELP = N_(
    "Start the gateway (web chat, APIs, channels) until Ctrl-C or SIGTERM.\n\n"
    "Without a config file it runs on defaults: SQLite under ./data, 127.0.0.1:18789, and "
    "any provider key found in the environment or .env (e.g. DEEPSEEK_API_KEY)."
)


@dataclass(frozen=True, slots=True)
class RunOption:
    """One option of `ai-bot run`: its keyword in `start`, its flags, its environment variable,
    its help (a msgid), and whether it takes an integer and may be repeated."""

    name: str
    flags: tuple[str, ...]
    envvar: str
    help: str
    integer: bool = False
    repeated: bool = False


CONFIG = RunOption(
    "config",
    ("--config", "-c"),
    "AIBOT_CONFIG",
    N_("Path to config.yaml (default: ./config.yaml, else built-in defaults)."),
)
RUN_OPTIONS = (
    CONFIG,
    RunOption("host", ("--host",), "AIBOT_HOST", N_("Override server.host.")),
    RunOption("port", ("--port",), "AIBOT_PORT", N_("Override server.port."), integer=True),
    RunOption(
        "trusted_proxy",
        ("--trusted-proxy",),
        "AIBOT_TRUSTED_PROXIES",
        N_(
            "A reverse proxy (IP or CIDR) whose X-Forwarded-For/-Proto are believed; "
            "repeat for several; added to server.trusted_proxies."
        ),
        repeated=True,
    ),
)


def run_plain(args: list[str]) -> bool:
    """Runs `ai-bot run ARGS` when they are plain options; False, having done nothing, when
    typer's `ai-bot` is to parse them."""
    options = plain_options(args)
    if options is None:
        return False
    try:
        start(**options)
    except (Exception, KeyboardInterrupt) as error:
        from aibot.cli.typer_ending import end_as_typer

        end_as_typer(error, help=RUN_HELP)
    return True


def plain_options(args: Sequence[str]) -> dict[str, Any] | None:
    """`start`'s keywords from the command line and the environment, as typer gives them to
    `run`; None for a command line only typer's `ai-bot` may answer."""
    import click

    command = click.Command(
        "run",
        add_help_option=False,
        params=[
            click.Option([*o.flags, o.name], envvar=o.envvar, multiple=o.repeated)
            for o in RUN_OPTIONS
        ],
    )
    try:
        values = command.make_context("run", list(args)).params
    except click.ClickException:
        return None
    options: dict[str, Any] = {}
    for option in RUN_OPTIONS:
        value = values[option.name]
        if option.repeated:
            value = list(value) or None
        elif option.integer and value is not None:
            if not (value.isascii() and value.isdigit()):
                return None
            value = int(value)
        options[option.name] = value
    return options


def start(
    config: str | None = None,
    host: str | None = None,
    port: int | None = None,
    trusted_proxy: list[str] | None = None,
) -> None:
    """`ai-bot run` once its command line is read, by typer or by `plain_options`."""
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
