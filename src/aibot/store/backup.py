"""SQLite backups that are consistent while the gateway runs, and restores that check first.

Copying the database file of a running gateway can tear it (and misses what is still in the
`-wal` file); SQLite's online backup API copies a consistent snapshot instead. A restore goes
through the same API into the target, so a stale `-wal` left by a crash is never replayed onto
the restored pages.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from aibot.i18n import N_, Phrase
from aibot.ops.file_modes import private_database
from aibot.store.migrations import head_revision

TABLES = ("conversations", "turns", "inbox", "outbox")
# SQLite's "dead man switch" lock in the -shm file: every open connection to a WAL database
# holds a shared lock on this byte (WALINDEX_LOCK_OFFSET 120 + SQLITE_SHM_NLOCK 8).
_SHM_DMS_BYTE = 128


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


def sqlite_path(url: str) -> Path | None:
    """The database file of a `sqlite:///…` storage URL; None for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if parsed.database in (None, "", ":memory:"):
        raise BackupError(
            Phrase(N_("storage.url is an in-memory SQLite database: nothing to back up"))
        )
    return Path(parsed.database).expanduser()


def in_use(database: Path) -> bool:
    """True while any process has the WAL database open (a running gateway does, always)."""
    shm = Path(f"{database}-shm")
    try:
        fd = os.open(shm, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, _SHM_DMS_BYTE)
        return False
    finally:
        os.close(fd)


def inspect(database: Path) -> dict[str, int]:
    """Checks that `database` is an intact ai-bot store this version can open; row counts."""
    if not database.is_file():
        raise BackupError(Phrase(N_("{path}: no such file"), {"path": database}))
    try:
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(
            Phrase(N_("{path}: cannot open: {reason}"), {"path": database, "reason": exc})
        ) from None
    try:
        (status,) = connection.execute("PRAGMA integrity_check").fetchone()
        if status != "ok":
            raise BackupError(
                Phrase(N_("{path}: damaged: {status}"), {"path": database, "status": status})
            )
        names = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        missing = [t for t in (*TABLES, "alembic_version") if t not in names]
        if missing:
            raise BackupError(
                Phrase(
                    N_("{path}: not an ai-bot database (no {tables})"),
                    {"path": database, "tables": ", ".join(missing)},
                )
            )
        (revision,) = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision > head_revision():
            raise BackupError(
                Phrase(
                    N_(
                        "{path}: made by a newer ai-bot (schema {revision}); "
                        "upgrade ai-bot before restoring it"
                    ),
                    {"path": database, "revision": revision},
                )
            )
        return {
            t: connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
            for t in TABLES
        }
    except sqlite3.DatabaseError as exc:
        raise BackupError(
            Phrase(
                N_("{path}: not a SQLite database ({reason})"), {"path": database, "reason": exc}
            )
        ) from None
    finally:
        connection.close()


def backup(database: Path, target: Path) -> dict[str, int]:
    """A consistent copy of `database` at `target` (mode 0600), checked before it is kept."""
    if not database.is_file():
        raise BackupError(
            Phrase(
                N_(
                    "no database at {path} (a relative storage.url is relative to "
                    "the directory the gateway runs in, e.g. /var/lib/ai-bot)"
                ),
                {"path": database},
            )
        )
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        _copy(database, partial)
        with closing(sqlite3.connect(partial)) as copy:
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        counts = inspect(partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return counts


def restore(source: Path, database: Path, *, force: bool = False) -> dict[str, int]:
    """Replaces the contents of `database` with the backup `source`, after checking it."""
    counts = inspect(source)
    if in_use(database) and not force:
        raise BackupError(
            Phrase(
                N_(
                    "{path} is open in a running gateway: stop it first "
                    "(systemctl stop ai-bot), or pass --force"
                ),
                {"path": database},
            )
        )
    private_database(database)
    _copy(source, database)
    return counts


def _copy(source: Path, target: Path) -> None:
    try:
        with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        raise BackupError(
            Phrase(
                N_("copying {source} to {target} failed: {reason}"),
                {"source": source, "target": target, "reason": exc},
            )
        ) from None
