"""The questions `ai-bot init` asks, in the CLI's language: provider, base URL, key (with
where to get one), numbers in a range, a free port, the Telegram token."""

from __future__ import annotations

import re
import socket
import sys

from rich.markup import escape
from rich.prompt import IntPrompt, Prompt
from rich.table import Table

from aibot.cli.common import console, err_console, tr
from aibot.config.presets import PRESETS, Preset

CUSTOM = "custom"
TELEGRAM_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{20,}$")
PORT_SEARCH = 100  # ports tried above a busy one for a free suggestion


class Ask(Prompt):
    """rich's prompt with its own complaints in the CLI's language."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.illegal_choice_message = "[prompt.invalid.choice]" + tr(
            "Please choose one of the options shown."
        )


class AskInt(IntPrompt):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.validate_error_message = "[prompt.invalid]" + tr("Please enter a whole number.")


def ask_preset() -> str:
    names = [*PRESETS, CUSTOM]
    table = Table(title=tr("Model providers"), title_justify="left")
    for column in ("#", tr("name"), tr("provider"), tr("default model"), tr("base URL")):
        table.add_column(column)
    for number, preset in enumerate(PRESETS.values(), start=1):
        table.add_row(str(number), preset.name, preset.title, preset.model, preset.base_url)
    table.add_row(str(len(names)), CUSTOM, tr("any OpenAI-compatible URL"), "", "")
    console.print(table)
    while True:
        reply = Ask.ask(tr("Provider (number or name)"), console=console).strip().lower()
        if reply.isdigit() and 1 <= int(reply) <= len(names):
            return names[int(reply) - 1]
        if reply in names:
            return reply
        err_console.print(tr("Choose 1-{last} or a name from the table.", last=len(names)))


def ask_base_url(default: str | None = None) -> str:
    while True:
        label = escape(tr("Base URL (OpenAI-compatible, e.g. http://127.0.0.1:8000/v1)"))
        if default:
            url = Ask.ask(label, console=console, default=default).strip()
        else:
            url = Ask.ask(label, console=console).strip()
        if url.startswith(("http://", "https://")):
            return url.rstrip("/")
        err_console.print(tr("The URL must start with http:// or https://."))


def key_hint(preset: Preset | None) -> None:
    """Where the key comes from, before it is asked for."""
    if preset is not None and preset.key_url:
        console.print(
            tr("Get a {vendor} API key at {url}", vendor=preset.title, url=preset.key_url),
            highlight=False,
            soft_wrap=True,
        )


def ask_key(*, required: bool) -> str:
    """Hidden when typed at a terminal; a plain read from a pipe, where nothing echoes anyway
    and getpass would go around the pipe to the controlling terminal."""
    hidden = sys.stdin.isatty()
    label = tr("API key")
    if hidden:
        label += " " + tr("(input hidden)")
    if not required:
        label += " " + tr("(empty if the server needs none)")
    while True:
        key = Ask.ask(
            label, console=console, password=hidden, default="", show_default=False
        ).strip()
        if key or not required:
            return key
        err_console.print(tr("This provider needs a key; paste it from the vendor's console."))


def ask_telegram_token() -> str:
    hidden = sys.stdin.isatty()
    label = tr("Telegram bot token from @BotFather (Enter to skip)")
    if hidden:
        label += " " + tr("(input hidden)")
    while True:
        token = Ask.ask(
            label, console=console, password=hidden, default="", show_default=False
        ).strip()
        if not token or TELEGRAM_TOKEN.match(token):
            return token
        err_console.print(
            tr("That is not a bot token (it looks like 123456789:AAE…); Enter skips Telegram.")
        )


def ask_int(label: str, default: int, bounds: tuple[int, int]) -> int:
    low, high = bounds
    while True:
        value = AskInt.ask(label, console=console, default=default)
        if low <= value <= high:
            return value
        err_console.print(tr("Enter a number between {low} and {high}.", low=low, high=high))


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether the gateway could listen on `port`, bound the way it will be (SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port_from(port: int) -> int | None:
    """The first free port from `port` up, or None when a hundred in a row are taken."""
    return next(
        (p for p in range(port, min(port + PORT_SEARCH, 65536)) if port_free(p)),
        None,
    )


def busy_port_line(port: int) -> str:
    free = free_port_from(port + 1)
    if free is None:
        return tr("Port {port} is in use (is ai-bot already running?).", port=port)
    return tr(
        "Port {port} is in use (is ai-bot already running?); port {free} is free.",
        port=port,
        free=free,
    )


def ask_port(default: int, bounds: tuple[int, int]) -> int:
    """A port the gateway can listen on: a busy one is named with a free one to take instead;
    asked for the same busy port twice (say, a gateway that will be stopped first), it is kept."""
    default = free_port_from(default) or default
    refused: int | None = None
    while True:
        port = ask_int(tr("Gateway port"), default, bounds)
        if port == refused or port_free(port):
            return port
        err_console.print(busy_port_line(port))
        refused, default = port, free_port_from(port + 1) or default
