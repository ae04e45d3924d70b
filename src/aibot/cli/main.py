"""The `ai-bot` command. Heavy imports happen inside commands so `--help` stays instant.

`ai-bot run` builds only itself (aibot.cli.run_command): typer turns every command's signature
into click's before it parses anything, and the other commands' modules import what they show
(rich's tables, getpass, …); `aibot.cli.commands` is the whole command line, loaded for any
other.
"""

from __future__ import annotations

import sys

from aibot.cli.common import fail, tr
from aibot.cli.run_command import command_line


def main() -> None:
    # With `run` first nothing else can be meant: the root's only options are --version and
    # --help, and any other first word is another command (or a usage error) for the full app.
    if sys.argv[1:2] == ["run"]:
        app = command_line()
    else:
        from aibot.cli.commands import app
    try:
        app()
    except KeyboardInterrupt:
        fail(tr("interrupted"), code=130)
