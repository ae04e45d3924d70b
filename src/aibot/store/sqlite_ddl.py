"""Writes `sqlite_schema.sql`, the schema a first start creates on a SQLite file without
SQLAlchemy (store/sqlite_file.py): `python -m aibot.store.sqlite_ddl`, or `make sqlite-schema`,
after any change to store/schema.py. A test fails while the committed file differs.

The statements are the ones store/engine.py's `_create_fresh` runs (`metadata.create_all`
without existence checks, then the `alembic_version` table), recorded on a scratch in-memory
database, so the file cannot drift from what the engine would create. `create_all` emits a
table's indexes in the order of a set, which changes between runs: they are written after
their table by name, which SQLite does not mind and keeps the file stable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event

from aibot.store.engine import _create_fresh
from aibot.store.sqlite_file import SCHEMA_FILE

HEADER = """\
-- The schema a first start creates on a SQLite file (store/sqlite_file.py): what
-- store/engine.py's _create_fresh runs through SQLAlchemy, without the stamp.
-- Generated from store/schema.py: `make sqlite-schema`. Do not edit.
"""


def generate() -> str:
    """The text `sqlite_schema.sql` should hold for the metadata as it is now."""
    engine = create_engine("sqlite://")
    ran: list[str] = []

    def record(*args: Any) -> None:
        ran.append(args[2].strip())

    event.listen(engine, "before_cursor_execute", record)
    with engine.begin() as connection:
        _create_fresh(connection)
    engine.dispose()
    tables: list[list[str]] = []
    for statement in ran:
        if statement.startswith("CREATE TABLE "):
            tables.append([statement])
        elif statement.startswith(("CREATE INDEX ", "CREATE UNIQUE INDEX ")):
            tables[-1].append(statement)
    ordered = [s for table, *indexes in tables for s in (table, *sorted(indexes))]
    return HEADER + "".join(f"\n{statement};\n" for statement in ordered)


def main() -> None:
    SCHEMA_FILE.write_text(generate(), encoding="utf-8")


if __name__ == "__main__":
    main()
