"""Statements written as SQL text with `:name` parameters, run the same way on every back end:
on a SQLite file with plain sqlite3 (which reads `:name` itself), elsewhere through the engine
(SQLAlchemy's `text()`, which renders them for the driver).

For what a gateway does while it starts: on a SQLite file it starts and serves without
SQLAlchemy (store/database.py; issue 20, cold start), so the statements of its start — the
access tokens' first load among them — must not need it there, and writing them once as text
keeps one statement per job instead of one per back end."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aibot.store.database import Database, SqliteFile, file_of
from aibot.store.sqlite_file import connect_file, named_rows

Step = tuple[str, Mapping[str, Any]]


async def transact(engine: Database, steps: Sequence[Step]) -> list[Mapping[str, Any]]:
    """Runs `steps` in one transaction, committed when all succeeded; the last one's rows by
    column name."""
    file = file_of(engine)
    if file is not None:
        return await asyncio.to_thread(_on_file, file, steps)
    from sqlalchemy import text

    async with engine.begin() as connection:
        rows: list[Mapping[str, Any]] = []
        for sql, params in steps:
            result = await connection.execute(text(sql), dict(params))
            rows = [dict(r._mapping) for r in result] if result.returns_rows else []
        return rows


def _on_file(file: SqliteFile, steps: Sequence[Step]) -> list[Mapping[str, Any]]:
    # Every `key_refresh` with access tokens on: the file was made private with the engine.
    db = connect_file(file.path, secure_delete=file.secure_delete)
    try:
        rows: list[Mapping[str, Any]] = []
        db.execute("BEGIN")
        try:
            for sql, params in steps:
                rows = named_rows(db.execute(sql, params))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return rows
    finally:
        db.close()
