"""The stored rows `ai-bot eval --from-history` samples (evaluation/history.py): questions and
answers since a time, each with its conversation's /reset time and its answer's summed rating,
and the same two facts for the turns read back from the archive (evaluation/archived.py).

The turns are streamed, so a month of traffic is read in constant memory; the caller closes
the stream (`contextlib.aclosing`) so the connection is given back even if it stops early."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from sqlalchemy import and_, func, select

from aibot.store.database import Database
from aibot.store.schema import conversations, ratings, turns


async def turns_since(engine: Database, since: float) -> AsyncGenerator[Any]:
    """Questions and answers from `since` on, grouped by session and oldest first within
    one: `id, session_key, role, content` (sealed as stored), `created_at`, `context_from`
    (the conversation's last /reset) and `score` (an answer's summed ratings, else None)."""
    rated = (
        select(ratings.c.request_id, func.sum(ratings.c.score).label("score"))
        .group_by(ratings.c.request_id)
        .subquery()
    )
    query = (
        select(
            turns.c.id,
            turns.c.session_key,
            turns.c.role,
            turns.c.content,
            turns.c.created_at,
            conversations.c.context_from,
            rated.c.score,
        )
        .select_from(
            turns.outerjoin(
                conversations, conversations.c.session_key == turns.c.session_key
            ).outerjoin(
                rated, and_(rated.c.request_id == turns.c.request_id, turns.c.role == "assistant")
            )
        )
        .where(
            and_(
                turns.c.created_at >= since,
                turns.c.role.in_(("user", "assistant")),
                # An answer's tool calls: its question and final answer make the case.
                turns.c.tool_data.is_(None),
            )
        )
        .order_by(turns.c.session_key, turns.c.created_at, turns.c.id)
    )
    async with engine.connect() as connection:
        result = await connection.stream(query)
        async for row in result:
            yield row


async def context_starts(engine: Database, sessions: list[str]) -> dict[str, float | None]:
    """Session key → its last /reset time, for the sessions the store still has."""
    query = select(conversations.c.session_key, conversations.c.context_from).where(
        conversations.c.session_key.in_(sessions)
    )
    async with engine.connect() as connection:
        return {r.session_key: r.context_from for r in (await connection.execute(query)).all()}


async def answer_scores(engine: Database, request_ids: list[str]) -> dict[str, Any]:
    """Request id → the sum of its answer's 👍 (+1) and 👎 (-1), for the rated ones."""
    query = (
        select(ratings.c.request_id, func.sum(ratings.c.score).label("score"))
        .where(ratings.c.request_id.in_(request_ids))
        .group_by(ratings.c.request_id)
    )
    async with engine.connect() as connection:
        return {r.request_id: r.score for r in (await connection.execute(query)).all()}
