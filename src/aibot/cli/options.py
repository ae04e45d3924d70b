"""The option several commands share, as typer reads it: `--config`, made from what `ai-bot run`
parses without typer (aibot.cli.run_plain.CONFIG), so the two cannot drift apart."""

from __future__ import annotations

from typing import Annotated

import typer

from aibot.cli.run_plain import CONFIG

ConfigOption = Annotated[
    str | None, typer.Option(*CONFIG.flags, envvar=CONFIG.envvar, help=CONFIG.help)
]
