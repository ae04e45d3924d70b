"""The `ai-bot` command. Heavy imports happen inside commands so `--help` stays instant.

`ai-bot run` with plain options is parsed without typer (aibot.cli.run_plain); any other `ai-bot
run …` builds typer's `ai-bot` with only that command (aibot.cli.run_command): typer turns every
command's signature into click's before it parses anything, and the other commands' modules
import what they show (rich's tables, getpass, …); `aibot.cli.commands` is the whole command
line, loaded for any other.

For `run` the garbage collector is off from here, before the command line's own imports
(rich, structlog, the config models: ~100 young collections, ~15 ms of a start's CPU, each
walking a heap that lives as long as the server); `ops/gc_tuning.py` says why a start runs
without it and turns it on, with the start-up heap frozen, once the server serves.
"""

from __future__ import annotations

import gc
import sys


def main() -> None:
    # With `run` first nothing else can be meant: the root's only options are --version and
    # --help, and any other first word is another command (or a usage error) for the full app.
    if sys.argv[1:2] == ["run"]:
        gc.disable()  # back on when the run command ends or serves (ops/gc_tuning.py)
        from aibot.cli.run_plain import run_plain

        if run_plain(sys.argv[2:]):
            return
        from aibot.cli.run_command import command_line

        app = command_line()
    else:
        from aibot.cli.commands import app
    try:
        app()
    except KeyboardInterrupt:
        from aibot.cli.common import fail, tr

        fail(tr("interrupted"), code=130)
