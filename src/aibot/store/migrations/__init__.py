"""The Alembic migrations (`versions/`) and which of them is the newest, without Alembic or
SQLAlchemy: a start that finds its SQLite store current (store/sqlite_file.py) and a backup's
check (store/backup.py) only compare a revision with the head."""

from __future__ import annotations

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent


def head_revision() -> str:
    """Migration files are named `<revision>_<slug>.py` with sortable revisions."""
    names = sorted(p.name for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))
    return names[-1].split("_", 1)[0]
