"""The execution context of store/database.py's SQLite engine, in a module of its own so that
it is imported with the engine it customises (at the first statement), not with the store."""

from __future__ import annotations

from sqlalchemy.dialects.sqlite.base import SQLiteExecutionContext
from sqlalchemy.engine.cursor import FullyBufferedCursorFetchStrategy

# The execution option `SqliteConnection.stream` sets to fetch in chunks instead.
UNBUFFERED = "aibot_unbuffered"


class BufferedContext(SQLiteExecutionContext):
    """Fetches a statement's rows on the thread that ran it (as the async drivers do), so the
    result the loop reads is plain memory; `stream` opts out and fetches in chunks instead."""

    def post_exec(self) -> None:
        super().post_exec()  # type: ignore[no-untyped-call]
        cursor = self.cursor
        if cursor.description is not None and not self.execution_options.get(UNBUFFERED):
            self.cursor_fetch_strategy = FullyBufferedCursorFetchStrategy(
                cursor, cursor.description, cursor.fetchall()
            )
