"""The few statements that differ between SQLite, PostgreSQL and MySQL/MariaDB, in one place.

SQLite and PostgreSQL share `INSERT … ON CONFLICT` and `… RETURNING`. MySQL has neither (and
MariaDB 10.11 has no `UPDATE … RETURNING`), so there:
- "insert unless present" is `INSERT IGNORE`, and the new row's id is the cursor's `lastrowid`
  (0 rows affected: it was a re-delivery). IGNORE also turns a too-long value into a truncation
  warning; the edges already refuse keys longer than the columns (255), so it only ever ignores
  the duplicate key;
- an upsert is `INSERT … ON DUPLICATE KEY UPDATE`;
- a compare-and-set UPDATE (the outbox claim) reports success through the affected-row count
  instead of a returned id. InnoDB re-reads the row under its lock before applying the WHERE, so
  of two replicas claiming the same row the second finds the first's owner and matches nothing.

The writer reads a returning write's value from the rows when the statement returns some, else
from the affected-row count (see `Write.matched` in store/writer.py).

Only the dialect in use is imported (PostgreSQL's and MySQL's cost a quarter of a second of
start-up each on a small box, and a gateway talks to one database).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Column, Table, Update
    from sqlalchemy.sql import Executable


class Statements:
    """Built with the store's objects while the gateway starts; the dialect's `insert` is
    imported with the first statement (a gateway on a SQLite file serves before SQLAlchemy is
    loaded: store/database.py)."""

    def __init__(self, dialect_name: str) -> None:
        self.mysql = dialect_name in ("mysql", "mariadb")
        self._dialect_name = dialect_name

    @cached_property
    def _insert(self) -> Any:
        if self.mysql:
            from sqlalchemy.dialects.mysql import insert as mysql_insert

            return mysql_insert
        if self._dialect_name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as postgresql_insert

            return postgresql_insert
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert

    def insert_unless_present(
        self, table: Table, unique: Sequence[Column[Any]], new_id: Column[Any]
    ) -> Executable:
        """Inserts one row unless `unique` already exists; yields the new id or None."""
        if self.mysql:
            return self._insert(table).prefix_with("IGNORE")  # type: ignore[no-any-return]
        statement = self._insert(table).on_conflict_do_nothing(index_elements=list(unique))
        return statement.returning(new_id)  # type: ignore[no-any-return]

    def upsert(self, table: Table, unique: Sequence[Column[Any]], changes: Sequence[str]) -> Any:
        """Inserts one row, or sets `changes` from it on the row `unique` already names."""
        if self.mysql:
            insert = self._insert(table)
            return insert.on_duplicate_key_update({name: insert.inserted[name] for name in changes})
        insert = self._insert(table)
        return insert.on_conflict_do_update(
            index_elements=list(unique), set_={name: insert.excluded[name] for name in changes}
        )

    def compare_and_set(self, statement: Update, row_id: Column[Any]) -> Executable:
        """An UPDATE whose success the writer reports: the row id, or None if nothing matched."""
        return statement if self.mysql else statement.returning(row_id)
