"""How good the answers are, per provider: satisfaction, latency, tokens — for the canary
verdict (`ai-bot canary status`, the console's models page) and CSAT per day.

Answers, latency, tokens and ratings come from the store (they survive restarts and cover every
replica); the callers add the errors from the running gateway's /metrics (`admin/stats.py`),
because a failed call leaves no turn. Latency is the time from the question's turn to the
answer's, queueing included, as users feel it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select

from aibot.store.database import Database
from aibot.store.schema import ratings, turns


@dataclass(frozen=True)
class ArmStats:
    provider: str
    answers: int
    ratings: int
    good: int
    latency_p50: float | None
    latency_p95: float | None
    tokens_mean: float | None
    calls: int | None = None  # from /metrics, since the gateway started
    errors: int | None = None

    @property
    def csat(self) -> float | None:
        return self.good / self.ratings if self.ratings else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls and self.errors is not None else None


async def arm_stats(engine: Database, provider: str, since: float) -> ArmStats:
    question = turns.alias()
    answered = (
        select(
            turns.c.created_at - question.c.created_at,
            turns.c.prompt_tokens + turns.c.completion_tokens,
        )
        .join(
            question, and_(question.c.request_id == turns.c.request_id, question.c.role == "user")
        )
        .where(
            and_(
                turns.c.role == "assistant",
                turns.c.provider == provider,
                turns.c.created_at >= since,
            )
        )
    )
    rated = select(
        func.count(), func.coalesce(func.sum(case((ratings.c.score > 0, 1), else_=0)), 0)
    ).where(and_(ratings.c.provider == provider, ratings.c.updated_at >= since))
    async with engine.connect() as connection:
        rows = (await connection.execute(answered)).all()
        count, good = (await connection.execute(rated)).one()
    latencies = sorted(float(r[0]) for r in rows)
    return ArmStats(
        provider,
        len(rows),
        int(count),
        int(good),
        _quantile(latencies, 0.5),
        _quantile(latencies, 0.95),
        statistics.fmean(float(r[1]) for r in rows) if rows else None,
    )


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


@dataclass(frozen=True)
class CsatRow:
    day: str  # YYYY-MM-DD, UTC
    channel: str
    provider: str
    route: str
    ratings: int
    good: int

    @property
    def csat(self) -> float:
        return self.good / self.ratings


async def csat_by_day(engine: Database, since: float) -> list[CsatRow]:
    """👍 share per UTC day, channel, provider and route, newest day first."""
    query = select(
        ratings.c.updated_at,
        ratings.c.channel,
        ratings.c.provider,
        ratings.c.route,
        ratings.c.score,
    ).where(ratings.c.updated_at >= since)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    counts: dict[tuple[str, str, str, str], list[int]] = {}
    for at, channel, provider, route, score in rows:
        key = (
            time.strftime("%Y-%m-%d", time.gmtime(at)),
            channel,
            provider or "-",
            route or "default",
        )
        tally = counts.setdefault(key, [0, 0])
        tally[0] += 1
        tally[1] += score > 0
    ordered = sorted(counts.items())
    ordered.sort(key=lambda item: item[0][0], reverse=True)  # stable: newest day first
    return [CsatRow(*key, total, good) for key, (total, good) in ordered]
