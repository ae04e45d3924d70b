"""What the CLI commands share: one-line errors, the console, the config, the store.

Nothing here imports typer: a plain `ai-bot run` starts without it (aibot.cli.run_plain). The
config option the commands declare is typer's, in aibot.cli.options."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, NoReturn, TypeVar

from rich.console import Console
from rich.markup import escape

from aibot import i18n
from aibot.config import ConfigError, LoadedConfig, load_config
from aibot.i18n import tr as tr  # the CLI modules import it from here

if TYPE_CHECKING:
    from aibot.config import Config
    from aibot.store.crypto import Cipher
    from aibot.store.database import Database

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def listed(items: Iterable[str], *, clauses: bool = False) -> str:
    """`items` as a list inside a `tr` sentence, with the terminal language's punctuation."""
    return i18n.join_list(i18n.terminal_language(), items, clauses=clauses)


def problem(exc: ConfigError) -> str:
    """A config (or data key) problem in the CLI's language; its English when the error
    carries no catalog msgid."""
    return exc.say(i18n.terminal_language())


def said(exc: BaseException) -> str:
    """An error raised with a `Phrase` (a refused password, a damaged backup, a bad deploy
    option) in the CLI's language; any other error's own text."""
    return i18n.said(exc, i18n.terminal_language())


def fail(message: str, code: int = 2) -> NoReturn:
    """One red line and the exit code; the message is plain text, never rich markup. Ends the
    command as typer's `Exit` (typer is imported here, not by `ai-bot run`'s start)."""
    from typer import Exit

    print_error(message)
    raise Exit(code)


def print_error(message: str) -> None:
    """One red "error:" line (in the terminal's language); the message is plain text."""
    label = escape(i18n.translate(i18n.terminal_language(), "error:"))
    err_console.print(f"[bold red]{label}[/] {escape(message)}", highlight=False, soft_wrap=True)


def load_or_exit(path: str | None) -> LoadedConfig:
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        if exc.ui is not None:  # the refused file still says which language its reader has
            i18n.configure(*exc.ui)
        lines = problem(exc).splitlines()
        for line in lines[:-1]:
            print_error(line)
        fail(lines[-1] if lines else tr("invalid configuration"))
    i18n.configure(loaded.config.ui.language, loaded.config.ui.default_language)
    return loaded


def follow_ui_language(path: str | None) -> None:
    """The CLI in the config's `ui.language` for a command that needs no valid config
    (`config --schema` is the list a broken file is fixed with): a file that does not load
    still says which language its reader has, where it can; else the terminal's."""
    try:
        ui = load_config(path).config.ui
    except ConfigError as exc:
        if exc.ui is not None:
            i18n.configure(*exc.ui)
        return
    i18n.configure(ui.language, ui.default_language)


def cipher_or_exit(config: Config) -> Cipher:
    """How this config reads sealed values (storage.encryption); a bad key is one line."""
    from aibot.store.crypto import PLAIN, keyring_for

    try:
        return keyring_for(config.storage.encryption) or PLAIN
    except ConfigError as exc:
        fail(problem(exc))


def on_store(
    url: str, action: Callable[[Database], Awaitable[T]], *, secure_delete: bool = False
) -> T:
    """Runs `action` on the store at `url`, migrated first (the command may be the first to
    touch it): the commands that change what a running gateway reads (pairings, admin users,
    the canary's audit entry, the data keys, the archive) share this. `secure_delete`: see
    store/engine.py."""
    from sqlalchemy.exc import SQLAlchemyError

    from aibot.store.engine import create_engine, migrate

    async def main() -> T:
        engine = create_engine(url, secure_delete=secure_delete)
        try:
            await migrate(engine)
            return await action(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except ConfigError as exc:  # a data key that does not fit the store
        fail(problem(exc))
    except OSError as exc:
        fail(tr("cannot open the store ({reason}); check storage.url", reason=str(exc)))
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0]
        fail(tr("cannot use the store: {reason} (check storage.url)", reason=reason), code=1)
