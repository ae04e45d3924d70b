"""`ai-bot chat`: a terminal conversation through the real pipeline, memory and store.

It runs the gateway in-process (no server, no port) so a user can try a model and a config
before connecting any platform. The conversation is remembered like any other channel's.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import time
import uuid
from pathlib import Path

from rich.markup import escape

from aibot.cli.common import console, fail, problem, tr
from aibot.config import ConfigError, LoadedConfig
from aibot.core.messages import Inbound, ReplyTarget
from aibot.core.notices import failure_notice
from aibot.core.service import stream_turn
from aibot.gateway.build import Gateway
from aibot.i18n import terminal_language
from aibot.ops.logging import SecretMasker, configure_logging

COMMAND = "ai-bot chat"  # a name, not words to translate
EXIT_WORDS = frozenset({"/exit", "/quit", "exit", "quit"})


def run_chat(loaded: LoadedConfig) -> None:
    """Logs go to a file (`logging.file`, else data/chat.log beside the config), never into
    the conversation; lines are edited with readline (arrows, history) on a terminal."""
    log_file = loaded.config.logging.file or str(
        (loaded.path.parent if loaded.path else Path.cwd()) / "data" / "chat.log"
    )
    Path(log_file).parent.mkdir(parents=True, exist_ok=True)
    settings = loaded.config.logging.model_copy(update={"file": log_file})
    configure_logging("info", "json", SecretMasker(loaded.config.secrets()), settings)
    if sys.stdin.isatty():
        import readline  # noqa: F401 - input() gains line editing and history by importing it
    try:
        gateway = Gateway(loaded)
        asyncio.run(_session(gateway, log_file))
    except ConfigError as exc:  # also a data key that does not fit the store, found at start
        fail(problem(exc))


async def _session(gateway: Gateway, log_file: str) -> None:
    await gateway.start()
    try:
        for problem in gateway.problems(terminal_language()):
            console.print(f"[yellow]! {escape(problem)}[/]", highlight=False)
        model = gateway.catalog.describe(gateway.catalog.default or "-")
        welcome = tr("model {model} · /help for commands, /exit or Ctrl-D to leave", model=model)
        console.print(f"[bold]{COMMAND}[/] · {escape(welcome)}", highlight=False)
        console.print("[dim]" + escape(tr("logs: {path}", path=log_file)) + "[/]", highlight=False)
        session = f"cli:{getpass.getuser()}"
        while True:
            text = await _read_line()
            if text is None or text.strip() in EXIT_WORDS:
                break
            if text.strip():
                await _turn(gateway, session, text.strip())
    finally:
        await gateway.stop()


async def _read_line() -> str | None:
    prompt = tr("you> ") if sys.stdin.isatty() else ""
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None


async def _turn(gateway: Gateway, session: str, text: str) -> None:
    inbound = Inbound(
        channel="cli",
        session_key=session,
        user_id=session,
        text=text,
        request_id=uuid.uuid4().hex,
        received_at=time.time(),
        principal="cli-local",
        target=ReplyTarget(locale=terminal_language()),
    )
    streamed = False
    async for item in stream_turn(gateway.service, inbound):
        if isinstance(item, str):
            if not streamed:
                console.print("[bold cyan]" + escape(tr("bot>")) + "[/] ", end="")
                streamed = True
            console.print(item, end="", markup=False, highlight=False, soft_wrap=True)
            continue
        ctx = item.ctx
        if ctx is None or ctx.error is not None:
            # The notice a chat user gets, then the cause in words (as /readyz says it).
            language = terminal_language()
            lines = [failure_notice(language, inbound.request_id), *gateway.problems(language)]
            console.print(
                ("\n" if streamed else "") + "\n".join(f"! {line}" for line in lines),
                style="red",
                markup=False,
                highlight=False,
            )
        elif streamed:
            console.print()
        else:
            console.print("[bold cyan]" + escape(tr("bot>")) + "[/] ", end="")
            console.print(ctx.reply or "", markup=False, highlight=False, soft_wrap=True)
