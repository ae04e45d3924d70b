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

from aibot.store.database import Database, SqliteEngine, SqliteFile
from aibot.store.sqlite_file import open_file

Step = tuple[str, Mapping[str, Any]]


async def transact(engine: Database, steps: Sequence[Step]) -> list[dict[str, Any]]:
    """Runs `steps` in one transaction, committed when all succeeded; the last one's rows by
    column name."""
    file = engine.file if isinstance(engine, SqliteEngine) else None
    if file is not None:
        return await asyncio.to_thread(_on_file, file, steps)
    from sqlalchemy import text

    async with engine.begin() as connection:
        rows: list[dict[str, Any]] = []
        for sql, params in steps:
            result = await connection.execute(text(sql), dict(params))
            rows = [dict(r._mapping) for r in result] if result.returns_rows else []
        return rows


def _on_file(file: SqliteFile, steps: Sequence[Step]) -> list[dict[str, Any]]:
    db = open_file(file.path, secure_delete=file.secure_delete)
    try:
        rows: list[dict[str, Any]] = []
        db.execute("BEGIN")
        try:
            for sql, params in steps:
                cursor = db.execute(sql, params)
                names = [c[0] for c in cursor.description or ()]
                rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return rows
    finally:
        db.close()
