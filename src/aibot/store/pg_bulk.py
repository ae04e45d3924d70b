"""A group commit of plain inserts as one statement on PostgreSQL: one round trip, no
`BEGIN` and `COMMIT` of their own.

A message's writes are an upsert of its conversation and an insert of its turns (and, once a
second, the message log's rows). As a transaction that is four round trips; on the 2-core box
that cost ~250 µs of client CPU per batch against ~70 µs for the same rows as one statement
(issue 20; `bench/README.md` step 26), and with two replicas each batch holds half as many
messages. So a batch whose every step is an `INSERT` (with or without `ON CONFLICT`) or a
single-row `UPDATE`, each on a table of its own, with nothing to hand back and fenced by
nothing (store/pg_write.py decides that), is sent as

    WITH w1 AS (UPDATE inbox SET … WHERE inbox.id = $4::INTEGER …),
         w2 AS (INSERT INTO a (…) SELECT * FROM unnest($7::T[], …) ON CONFLICT …), …
    INSERT INTO z (…) SELECT * FROM unnest(…)

with each inserted column's values as one array. One statement is one transaction: all or
nothing, as the batch's own was. Each insert keeps the SQL SQLAlchemy compiled for it except
its `VALUES` row, which becomes the `unnest` of the batch's rows in their order; an update
keeps its SQL whole, its parameters renumbered; a `RETURNING` clause stays and is not read.

What it would not mean the same: two rows of one batch for one conflict key. PostgreSQL
refuses that statement whole (cardinality violation) where the transaction would have applied
both in turn, so the writer then runs the batch as a transaction (store/pg_write.py). Data-
modifying parts of one statement do not see each other's rows; the parts here write different
tables, and an update only rows that earlier, committed batches created.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

# One bound parameter as SQLAlchemy's asyncpg dialect renders it: `$2::VARCHAR`. The array keeps
# that cast, never the column's own type: `::VARCHAR(255)` would cut a longer value where the
# insert refuses it.
_PARAMETER = re.compile(r"\$(\d+)::([A-Z][A-Z0-9_ ]*)")
_NUMBER = re.compile(r"\$(\d+)")
_UNCAST = re.compile(r"\$\d+(?![\d:])")
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

    @property
    def width(self) -> int:
        """Parameters it takes: one array per column."""
        return len(self.casts)

    def sql(self, first: int) -> str:
        """The insert of the rows in parameters `$first`… (one array per column). Every piece
        is SQLAlchemy's compiled text or a type name of the schema: no value is in the SQL."""
        arrays = ", ".join(f"${first + i}::{cast}[]" for i, cast in enumerate(self.casts))
        return f"{self.head} SELECT * FROM unnest({arrays}){self.tail}"  # noqa: S608


class BulkUpdate:
    """One compiled single-row `UPDATE` (a platform message's inbox row marked done beside its
    answer's inserts), its parameters renumbered to follow the statement's others."""

    __slots__ = ("table", "text", "width")

    def __init__(self, table: str, text: str, width: int) -> None:
        self.table = table
        self.text = text
        self.width = width

    def sql(self, first: int) -> str:
        return _NUMBER.sub(lambda match: f"${int(match.group(1)) + first - 1}", self.text)


BulkPart = BulkInsert | BulkUpdate


def bulk_part(compiled: Any) -> BulkPart | None:
    """The insert's bulk form, or the update as it is (used for a batch with one row of its
    parameters: an update of many rows stays an `executemany` in a transaction)."""
    return bulk_update(compiled) if compiled.isupdate else bulk_insert(compiled)


def bulk_update(compiled: Any) -> BulkUpdate | None:
    """None unless every `$n` of the SQL is a cast parameter, numbered in order, and the SQL
    holds no quoted text (where a `$` could be something else)."""
    sql: str = compiled.string
    names = tuple(compiled.positiontup or ())
    numbers = [int(number) for number in _NUMBER.findall(sql)]
    if not names or numbers != list(range(1, len(names) + 1)) or _UNCAST.search(sql):
        return None
    if "'" in sql or '"' in sql or not sql.startswith("UPDATE "):
        return None
    return BulkUpdate(compiled.statement.table.name, sql, len(names))


def bulk_insert(compiled: Any) -> BulkInsert | None:
    """The bulk form of a compiled single-row insert, or None where its SQL is not exactly
    `INSERT INTO t (…) VALUES ($1::T, …, $n::T)` with an optional tail that binds nothing."""
    if not compiled.isinsert:
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


def bulk_statement(steps: Sequence[BulkPart]) -> str | None:
    """The one statement running `steps` in order, or None when two write one table (their
    rows could meet, which one statement does not order)."""
    if len({step.table for step in steps}) != len(steps):
        return None
    parts: list[str] = []
    first = 1
    for step in steps:
        parts.append(step.sql(first))
        first += step.width
    if len(parts) == 1:
        return parts[0]
    ctes = ", ".join(f"w{index} AS ({part})" for index, part in enumerate(parts[:-1], 1))
    return f"WITH {ctes} {parts[-1]}"


def columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows of parameters as one list per column: the arrays `unnest` reads back in order."""
    return [[row[index] for row in rows] for index in range(width)]
