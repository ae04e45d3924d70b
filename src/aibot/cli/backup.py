"""`ai-bot backup`, `ai-bot restore` and `ai-bot maintenance`: the store's upkeep from a shell,
cron or a systemd timer."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer

from aibot.cli.common import console, fail, listed, load_or_exit, said, tr
from aibot.cli.options import ConfigOption
from aibot.config import Config
from aibot.i18n import N_, terminal_language, translate_plural

BACKUP_HELP = N_(
    "Copy the store while the gateway keeps running (SQLite online backup, pg_dump or mysqldump)."
)
RESTORE_HELP = N_(
    "Replace the store with a backup, after checking the backup is intact and complete."
)
MAINTENANCE_HELP = N_(
    "Archive idle conversations (with `archive:`), then delete turns, inbox and outbox rows "
    "older than the `retention` settings (daily job)."
)


def _summary(counts: dict[str, int]) -> str:
    """The rows a backup, a restore or the maintenance counted, by table, as a person reads
    them ("3 conversations, 12 turns"; 3 个会话、12 轮对话)."""
    return listed(_rows(table, count) for table, count in counts.items())


def _rows(table: str, n: int) -> str:
    language = terminal_language()
    match table:
        case "conversations":
            return translate_plural(language, "{n} conversation", "{n} conversations", n)
        case "turns":
            return translate_plural(language, "{n} turn", "{n} turns", n)
        case "inbox":
            return translate_plural(language, "{n} inbox row", "{n} inbox rows", n)
        case "outbox":
            return translate_plural(language, "{n} outbox row", "{n} outbox rows", n)
        case "message_log":
            return translate_plural(language, "{n} dashboard record", "{n} dashboard records", n)
        case "media":
            return translate_plural(language, "{n} attachment record", "{n} attachment records", n)
        case "media files":
            return translate_plural(language, "{n} media file", "{n} media files", n)
    return f"{n} {table}"


def backup(
    config: ConfigOption = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help=N_(
                "Backup file; .dump for PostgreSQL, .sql for MySQL "
                "(default: ai-bot-backup-YYYYmmdd-HHMMSS.db)."
            ),
        ),
    ] = None,
) -> None:
    from aibot.store.backup import BackupError, sqlite_path
    from aibot.store.backup import backup as backup_sqlite

    settings = load_or_exit(config).config
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        database = sqlite_path(settings.storage.url)
        if database is None and settings.storage.url.startswith(("mysql", "mariadb")):
            from aibot.cli.dump_mysql import mysql_dump

            mysql_dump(settings.storage.url, out or Path(f"ai-bot-backup-{stamp}.sql"))
            return
        if database is None:
            _pg_dump(settings, out or Path(f"ai-bot-backup-{stamp}.dump"))
            return
        target = out or Path(f"ai-bot-backup-{stamp}.db")
        counts = backup_sqlite(database, target)
    except BackupError as exc:
        fail(said(exc), code=1)
    except OSError as exc:
        fail(
            tr("cannot write {path}: {reason}", path=str(exc.filename or out), reason=exc.strerror),
            code=1,
        )
    done = tr(
        "backed up {database} to {target}: {counts}",
        database=str(database),
        target=str(target),
        counts=_summary(counts),
    )
    console.print(done, highlight=False, markup=False)
    _media_note(settings)


def _media_note(settings: Config) -> None:
    """Pictures, voice and files users sent are files, not rows: say where they are."""
    from aibot.gateway.media import media_dir

    folder = media_dir(settings)
    if folder.is_dir():
        note = tr(
            "attachments are not in the backup: copy {folder} as well (files are named by "
            "content, so e.g. rsync -a {folder}/ <backup dir>/media/ copies only new ones)",
            folder=str(folder),
        )
        console.print(note, highlight=False, markup=False)


def _pg_dump(settings: Config, target: Path) -> None:
    """Runs pg_dump when it is installed, else prints the command; the password travels in
    PGPASSWORD, never on a command line other users can read."""
    from sqlalchemy.engine import make_url

    url = make_url(settings.storage.url)
    dsn = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    command = ["pg_dump", "--format=custom", f"--file={target}", f"--dbname={dsn}"]
    if shutil.which("pg_dump") is None:
        advice = tr(
            "PostgreSQL: install the client (apt-get install postgresql-client) and run:\n"
            "  PGPASSWORD=… {command}\nrestore with: pg_restore --clean --if-exists "
            "--dbname={dsn} {target}",
            command=" ".join(command),
            dsn=dsn,
            target=str(target),
        )
        console.print(advice, highlight=False, markup=False)
        return
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    result = subprocess.run(command, env=env, check=False)  # noqa: S603 - argv, no shell
    if result.returncode != 0:
        fail(tr("pg_dump failed (exit {code})", code=result.returncode), code=1)
    os.chmod(target, 0o600)
    done = tr(
        "backed up PostgreSQL to {target} (restore with pg_restore --clean --if-exists "
        "--dbname={dsn} {target})",
        target=str(target),
        dsn=dsn,
    )
    console.print(done, highlight=False, markup=False)


def restore(
    file: Annotated[Path, typer.Argument(help=N_("A file made by `ai-bot backup`."))],
    config: ConfigOption = None,
    force: Annotated[
        bool,
        typer.Option(
            help=N_("Restore even while a gateway has the database open (restart it afterwards).")
        ),
    ] = False,
) -> None:
    from aibot.store.backup import BackupError, sqlite_path
    from aibot.store.backup import restore as restore_sqlite

    settings = load_or_exit(config).config
    try:
        database = sqlite_path(settings.storage.url)
        if database is None:
            fail(
                tr(
                    "storage.url is a database server: restore a backup with its own tool, "
                    "pg_restore --clean --if-exists --dbname=… {file} (PostgreSQL) or "
                    "mysql --user=… DATABASE < {file} (MySQL/MariaDB)",
                    file=str(file),
                )
            )
        counts = restore_sqlite(file, database, force=force)
    except BackupError as exc:
        fail(said(exc), code=1)
    except OSError as exc:
        fail(
            tr(
                "cannot write {path}: {reason}",
                path=str(exc.filename or database),
                reason=exc.strerror,
            ),
            code=1,
        )
    done = tr(
        "restored {file} into {database}: {counts}",
        file=str(file),
        database=str(database),
        counts=_summary(counts),
    )
    console.print(done, highlight=False, markup=False)


def maintenance(config: ConfigOption = None) -> None:
    import asyncio

    from sqlalchemy.exc import SQLAlchemyError

    from aibot.store.backup import BackupError, sqlite_path
    from aibot.store.engine import create_engine
    from aibot.store.maintenance import purge

    settings = load_or_exit(config).config
    try:
        database = sqlite_path(settings.storage.url)
    except BackupError as exc:
        fail(said(exc))
    if database is not None and not database.is_file():
        fail(
            tr(
                "no database at {database} (a relative storage.url is relative to the directory "
                "the gateway runs in)",
                database=str(database),
            ),
            code=1,
        )

    if settings.archive is not None:  # first, so retention never deletes what it would keep
        from aibot.cli.archive import archive_now

        console.print(archive_now(settings), highlight=False, markup=False)

    async def run() -> dict[str, int]:
        engine = create_engine(settings.storage.url)
        try:
            return await purge(engine, settings.retention, time.time())
        finally:
            await engine.dispose()

    try:
        deleted = asyncio.run(run())
    except SQLAlchemyError as exc:
        fail(tr("maintenance failed: {reason}", reason=str(exc).splitlines()[0]), code=1)
    if settings.retention.media_days is not None:
        from aibot.gateway.media import media_dir
        from aibot.media.blobs import LocalBlobStore

        blobs = LocalBlobStore(media_dir(settings), settings.media.max_bytes)
        deleted["media files"] = blobs.purge(settings.retention.media_days)
    console.print(tr("deleted {counts}", counts=_summary(deleted)), highlight=False, markup=False)
