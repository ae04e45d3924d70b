"""Archived turns for `ai-bot eval --from-history`: a window that reaches past `archive.after_days`
reads the objects its stubs name, so the sample covers what was archived as if it were still in
the database (each row with its conversation's /reset time and its answer's rating)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aibot.store.archive.bucket import Bucket
from aibot.store.archive.restore import archived_stubs, read_object
from aibot.store.database import Database
from aibot.store.history_rows import answer_scores, context_starts


@dataclass(frozen=True, slots=True)
class ArchivedRow:
    id: int
    session_key: str
    role: str
    content: str
    created_at: float
    context_from: float | None
    score: int | None


async def archived_history(
    engine: Database, bucket: Bucket, since: float
) -> dict[str, list[ArchivedRow]]:
    """Session key → its archived questions and answers since `since`, oldest first."""
    stubs = await archived_stubs(engine, None, since=since)
    rows: list[dict[str, Any]] = []
    for stub in stubs:
        rows += [
            r
            for r in await read_object(bucket, stub)
            if r["created_at"] >= since
            and r["role"] in ("user", "assistant")
            and r.get("tool_data") is None  # tool calls: not a question or an answer
        ]
    if not rows:
        return {}
    sessions = sorted({r["session_key"] for r in rows})
    answers = sorted(
        {r["request_id"] for r in rows if r["request_id"] and r["role"] == "assistant"}
    )
    resets = await context_starts(engine, sessions)
    scores = await answer_scores(engine, answers)
    found: dict[str, list[ArchivedRow]] = {}
    for r in sorted(rows, key=lambda r: (r["created_at"], r["id"])):
        score = scores.get(r["request_id"]) if r["role"] == "assistant" else None
        found.setdefault(r["session_key"], []).append(
            ArchivedRow(
                r["id"],
                r["session_key"],
                r["role"],
                r["content"],
                r["created_at"],
                resets.get(r["session_key"]),
                int(score) if score is not None else None,
            )
        )
    return found


async def with_archived(
    rows: AsyncIterator[Any], archived: dict[str, list[ArchivedRow]]
) -> AsyncIterator[Any]:
    """The store's rows (grouped by session) with each session's archived rows just before its
    own: they are older. Sessions only the archive holds come last."""
    waiting = dict(archived)
    current: str | None = None
    async for row in rows:
        if row.session_key != current:
            current = row.session_key
            for old in waiting.pop(current, ()):
                yield old
        yield row
    for session_rows in waiting.values():
        for old in session_rows:
            yield old
