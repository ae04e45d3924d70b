"""What `ai-bot run` checks before it starts serving, so a store it cannot use is one clear line
and exit code 2 — like `doctor` says it — instead of a traceback from inside the server.

The store is opened and migrated here (the gateway's own start then finds it current): a path
that cannot be created, a database that is down or refuses the login, a schema that cannot be
migrated or was written by a newer version each get a sentence that names the fix. Then the
data keys the store holds are checked against the config's (store/key_check.py): a wrong or
missing key is said as a refused config is.

A SQLite file, the default store, is checked with the standard library's sqlite3 alone
(store/sqlite_file.py): opened, created when new, found current, its keys read, without
importing SQLAlchemy, ~110 ms of a cold start's CPU (issue 20). Every other store, and a SQLite
schema at another revision, goes through SQLAlchemy's engine and Alembic, imported then: one
engine opens, migrates and reads the keys; on SQLite it runs each statement on this thread
(`blocking`), as nothing else runs on this loop and a worker thread would only be started,
waited for and joined.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from aibot.cli.common import fail, problem, tr
from aibot.i18n import N_, terminal_language, translate
from aibot.store.crypto import DataKeyError, Keyring
from aibot.store.key_check import check_keys
from aibot.store.migrations import head_revision
from aibot.store.sqlite_file import database, ensure_current, file_path, keys_in_use, open_file

if TYPE_CHECKING:
    from aibot.store.database import Database

STORE_TIMEOUT = 15.0
log = structlog.get_logger("aibot.store")

_UNREACHABLE = N_("cannot reach {backend} at {where} ({reason}): is it running? Check storage.url.")
_SQLITE = N_(
    "cannot open the SQLite database {where} ({reason}): check storage.url, and that its "
    "directory can be created and written by this user."
)
_REFUSED = N_("{backend} at {where} refused the connection: {reason}. Check storage.url.")
_SLOW = N_(
    "{backend} at {where} did not answer within {seconds} s: is it running? Check storage.url."
)
_MIGRATION = N_(
    "could not bring the {backend} store at {where} to schema {head}: {reason}. Restore the last "
    "backup (`ai-bot restore FILE`), or report it with the log."
)
_NEWER = N_(
    "the store at {where} was written by a newer ai-bot (schema {revision}): run that version, "
    "or restore a backup made by this one."
)


def check_store(url: str, keyring: Keyring | None) -> None:
    """Opens and migrates the store at `url` and checks that `keyring` reads everything it
    holds, or ends the command with one line (exit 2)."""
    path = file_path(url)
    try:
        if path is not None:
            backend, where = "SQLite", database(url)
            refused = _check_file(url, path, keyring)
        else:
            backend, where = _describe(url)
            refused = asyncio.run(_open(url, backend == "SQLite", keyring))
    except DataKeyError as exc:
        fail(problem(exc))
    if refused is not None:
        template, reason = refused
        fail(
            translate(
                terminal_language(),
                template,
                backend=backend,
                where=where,
                reason=reason,
                seconds=round(STORE_TIMEOUT),
                head=head_revision(),
                revision=reason,
            )
        )


def _describe(url: str) -> tuple[str, str | None]:
    """The back end's name and where it is, as the sentences say them."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        fail(tr("storage.url: {problem}", problem=str(exc)))
    backend = {"postgresql": "PostgreSQL", "mysql": "MySQL", "sqlite": "SQLite"}.get(
        parsed.get_backend_name(), parsed.get_backend_name()
    )
    where = parsed.database if backend == "SQLite" else parsed.render_as_string(hide_password=True)
    return backend, where


def _check_file(url: str, path: Path, keyring: Keyring | None) -> tuple[str, str] | None:
    """A SQLite file with sqlite3 alone: None when it is open, current (or created) and
    readable with `keyring`, else (the sentence's template, the reason). A schema at another
    revision is closed again and migrated through the engine (`_open`)."""
    try:
        db = open_file(path, secure_delete=keyring is not None)
    except OSError as exc:
        return _SQLITE, exc.strerror or str(exc)
    except sqlite3.Error as exc:
        return _SQLITE, _first_line(exc)
    with contextlib.closing(db):
        try:
            db.execute("SELECT 1")
        except sqlite3.Error as exc:
            return _SQLITE, _first_line(exc)
        try:
            state = ensure_current(db)
        except sqlite3.Error as exc:
            return _MIGRATION, _first_line(exc)
        if state == "created":  # as store/engine.py's `migrate` says it
            log.info("database schema migrated", revision=head_revision(), backend="sqlite")
        if state != "needs_migration":
            # As on the engine's way: a read that fails here is the gateway's start to report.
            with contextlib.suppress(OSError, sqlite3.Error):
                check_keys(keys_in_use(db), keyring)
            return None
    return asyncio.run(_open(url, True, keyring))


async def _open(url: str, sqlite: bool, keyring: Keyring | None) -> tuple[str, str] | None:
    """None when the store is open, current and readable with `keyring`, else (the sentence's
    template, the reason)."""
    from aibot.store.engine import create_engine

    try:
        engine = create_engine(url, blocking=True, secure_delete=keyring is not None)
    except OSError as exc:
        return _SQLITE, exc.strerror or str(exc)
    try:
        refused = await _connect_and_migrate(engine, sqlite)
        if refused is None:
            await _verify_keys(engine, keyring)
        return refused
    finally:
        await engine.dispose()


async def _verify_keys(engine: Database, keyring: Keyring | None) -> None:
    """The data keys: a store that fails here after it opened is left for the gateway's start
    to report (it verifies them again as it starts)."""
    from sqlalchemy.exc import SQLAlchemyError

    from aibot.store.data_keys import verify

    with contextlib.suppress(OSError, SQLAlchemyError):
        await verify(engine, keyring)


async def _connect_and_migrate(engine: Database, sqlite: bool) -> tuple[str, str] | None:
    from sqlalchemy.exc import DBAPIError

    from aibot.store.engine import migrate, ping

    try:
        async with asyncio.timeout(STORE_TIMEOUT):
            await ping(engine)
    except TimeoutError:
        return _SLOW, ""
    except (OSError, DBAPIError) as exc:
        reason = _first_line(exc)
        if sqlite:
            return _SQLITE, reason
        return (_UNREACHABLE if _unreachable(exc) else _REFUSED), reason
    try:
        async with asyncio.timeout(STORE_TIMEOUT * 4):
            await migrate(engine)
    except TimeoutError:
        return _SLOW, ""
    except Exception as exc:  # whatever stops the migration, one sentence names it
        revision = _unknown_revision(exc)
        return (_NEWER, revision) if revision else (_MIGRATION, _first_line(exc))
    return None


def _unreachable(exc: BaseException) -> bool:
    original = getattr(exc, "orig", None) or exc.__cause__ or exc
    return isinstance(original, OSError) or isinstance(exc, OSError)


def _unknown_revision(exc: BaseException) -> str | None:
    """Alembic's "Can't locate revision identified by 'X'": a newer version's database."""
    message = str(exc)
    marker = "Can't locate revision identified by '"
    if marker not in message:
        return None
    return message.split(marker, 1)[1].split("'", 1)[0][:32]


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = str(original).strip().splitlines() or [type(original).__name__]
    return lines[0][:200]
