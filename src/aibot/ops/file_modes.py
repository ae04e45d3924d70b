"""The files that hold conversations, password and key hashes, TOTP secrets and logs are their
owner's alone: created 0600, in directories created 0700.

SQLite creates a database 0644 (less the umask) and gives its WAL and shared-memory files the
database's mode, so the database is created here first, empty and 0600, and an existing one is
tightened at every start. A directory is made 0700 when it is created here; an existing one is
left as it is (it may be the working directory, or /tmp) and `ai-bot doctor` says when others
can read it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> None:
    """`path` and any missing parents, the ones created here 0700."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=PRIVATE_DIR, exist_ok=True)


def private_file(path: Path) -> None:
    """`path` created empty with 0600 if missing; an existing file tightened to 0600.

    An existing file is never opened here: closing any descriptor of a file drops every POSIX
    lock the process holds on it, through whichever descriptor, and SQLite's locks on a
    database are such locks — a gateway that checks its database while its own connections
    have it open would lose them (measured: "disk I/O error" in the next read, two gateways on
    one file in one process, issue 20)."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        if not os.access(path, os.W_OK):  # as opening it for writing would have refused
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path)) from None
        if os.name != "nt":
            os.chmod(path, PRIVATE_FILE)
        return
    try:
        if os.name != "nt":
            os.fchmod(fd, PRIVATE_FILE)  # the umask may have taken bits from the mode
    finally:
        os.close(fd)


def private_database(database: Path) -> None:
    """A SQLite database and its WAL, shared-memory and journal files: 0600 before it opens."""
    private_file(database)
    for sidecar in sqlite_files(database)[1:]:
        if sidecar.exists() and os.name != "nt":
            os.chmod(sidecar, PRIVATE_FILE)


def sqlite_files(database: Path) -> list[Path]:
    return [database, *(database.with_name(database.name + s) for s in SQLITE_SIDECARS)]


def open_to_others(path: Path) -> int | None:
    """The mode of `path` when its group or others may read (or enter) it, else None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & 0o077 else None
