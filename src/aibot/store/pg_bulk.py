"""A group commit of plain inserts as one statement on PostgreSQL: one round trip, no
`BEGIN` and `COMMIT` of their own.

A message's writes are an upsert of its conversation and an insert of its turns (and, once a
second, the message log's rows). As a transaction that is four round trips; on the 2-core box
that cost ~250 µs of client CPU per batch against ~70 µs for the same rows as one statement
(issue 20; `bench/README.md` step 26), and with two replicas each batch holds half as many
messages. So a batch whose every step is an `INSERT` (with or without `ON CONFLICT`) into a
table of its own, returning nothing and fenced by nothing, is sent as

    WITH w1 AS (INSERT INTO a (…) SELECT * FROM unnest($1::T[], …) ON CONFLICT …), …
    INSERT INTO z (…) SELECT * FROM unnest(…)

with each column's values as one array. One statement is one transaction: all or nothing, as
the batch's own was. Each insert keeps the SQL SQLAlchemy compiled for it except its `VALUES`
row, which becomes the `unnest` of the batch's rows in their order.

What it would not mean the same: two rows of one batch for one conflict key. PostgreSQL
refuses that statement whole (cardinality violation) where the transaction would have applied
both in turn, so the writer then runs the batch as a transaction (store/pg_write.py). Data-
modifying parts of one statement do not see each other's rows; the steps here are inserts into
different tables, which never look at each other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# One bound parameter as SQLAlchemy's asyncpg dialect renders it: `$2::VARCHAR`. The array keeps
# that cast, never the column's own type: `::VARCHAR(255)` would cut a longer value where the
# insert refuses it.
_PARAMETER = re.compile(r"\$(\d+)::([A-Z][A-Z0-9_ ]*)")
_VALUES = " VALUES ("


class BulkInsert:
    """One compiled single-row `INSERT` cut around its `VALUES` row: `head` names the table and
    columns, `tail` is what follows (`ON CONFLICT …`), `casts` each column's array type."""

    __slots__ = ("casts", "head", "table", "tail")

    def __init__(self, table: str, head: str, casts: tuple[str, ...], tail: str) -> None:
        self.table = table
        self.head = head
        self.casts = casts
        self.tail = tail

    def sql(self, first: int) -> str:
        """The insert of the rows in parameters `$first`… (one array per column). Every piece
        is SQLAlchemy's compiled text or a type name of the schema: no value is in the SQL."""
        arrays = ", ".join(f"${first + i}::{cast}[]" for i, cast in enumerate(self.casts))
        return f"{self.head} SELECT * FROM unnest({arrays}){self.tail}"  # noqa: S608


def bulk_insert(compiled: Any) -> BulkInsert | None:
    """The bulk form of a compiled single-row insert, or None where its SQL is not exactly
    `INSERT INTO t (…) VALUES ($1::T, …, $n::T)` with an optional tail that binds nothing."""
    if not compiled.isinsert or compiled.effective_returning:
        return None
    sql: str = compiled.string
    names = tuple(compiled.positiontup or ())
    start = sql.find(_VALUES)
    end = sql.find(")", start)
    if not names or start < 0 or end < 0 or "$" in sql[end:] or not sql.startswith("INSERT "):
        return None
    matches = [_PARAMETER.fullmatch(item) for item in sql[start + len(_VALUES) : end].split(", ")]
    row = [match.groups() for match in matches if match is not None]
    if [int(number) for number, _ in row] != list(range(1, len(names) + 1)):
        return None
    casts = tuple(cast for _, cast in row)
    return BulkInsert(compiled.statement.table.name, sql[:start], casts, sql[end + 1 :])


def bulk_statement(inserts: Sequence[BulkInsert]) -> str | None:
    """The one statement running `inserts` in order, or None when two write one table (their
    rows could meet, which one statement does not order)."""
    if len({insert.table for insert in inserts}) != len(inserts):
        return None
    parts: list[str] = []
    first = 1
    for insert in inserts:
        parts.append(insert.sql(first))
        first += len(insert.casts)
    if len(parts) == 1:
        return parts[0]
    ctes = ", ".join(f"w{index} AS ({part})" for index, part in enumerate(parts[:-1], 1))
    return f"WITH {ctes} {parts[-1]}"


def columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows of parameters as one list per column: the arrays `unnest` reads back in order."""
    return [[row[index] for row in rows] for index in range(width)]
