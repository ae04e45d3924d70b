"""The dashboard's bucketed history (store/series.py) on SQLite, PostgreSQL and MariaDB:
messages and errors per channel, tokens per provider, latency quantiles and the 👍 share, each
in the bucket its time falls in, nothing from before the window."""

from __future__ import annotations

import pytest

from aibot.core.feedback import RatedAnswer
from aibot.core.messages import MessageOutcome
from aibot.store.database import Database
from aibot.store.repository import Repository
from aibot.store.series import LATENCY_BOUNDS, SETTLE, WINDOWS, SeriesReader, quantile
from tests.support.databases import writer_for

DAY = WINDOWS["24h"]  # 96 buckets of 15 minutes
NOW = 1_780_000_000.0 + 450.0  # half-way through a 15-minute bucket
ORIGIN = (NOW // DAY.step - (DAY.points - 1)) * DAY.step


def outcome(
    bucket: int,
    channel: str,
    provider: str | None = "deepseek",
    *,
    failed: bool = False,
    seconds: float = 0.2,
    tokens: int = 10,
    offset: float = 1.0,
) -> MessageOutcome:
    return MessageOutcome(
        ORIGIN + bucket * DAY.step + offset, channel, provider, failed, seconds, tokens
    )


async def test_counts_errors_and_tokens_land_in_their_buckets(sql_engine: Database) -> None:
    repo, writer = Repository(sql_engine), writer_for(sql_engine)
    writer.start()
    rows = [
        outcome(0, "telegram", offset=0.0),  # the window's first instant
        outcome(0, "telegram", tokens=5, offset=DAY.step - 0.001),  # its first bucket's last
        outcome(1, "webchat", "glm", tokens=7),
        outcome(1, "webchat", None, failed=True, tokens=0),  # failed before any model answered
        outcome(95, "telegram", failed=True, offset=449.0),  # the bucket that holds NOW
        outcome(-1, "telegram", offset=DAY.step - 0.001),  # just before the window: left out
    ]
    await writer.submit(*(repo.log_message(row) for row in rows))
    await writer.stop()

    series = await SeriesReader(sql_engine).read(DAY, NOW)

    assert series.window == "24h" and series.step == 900 and len(series.times) == 96
    assert series.times[0] == ORIGIN and series.times[-1] <= NOW < series.times[-1] + 900
    assert series.messages["telegram"][:2] == [2, 0] and series.messages["telegram"][95] == 1
    assert series.messages["webchat"][:2] == [0, 2]
    assert sum(series.messages["telegram"]) == 3  # the row before the window is not counted
    assert series.errors["webchat"][1] == 1 and series.errors["telegram"][95] == 1
    assert sum(series.errors["telegram"]) == 1
    assert series.tokens["deepseek"][0] == 15 and series.tokens["glm"][1] == 7
    assert set(series.tokens) == {"deepseek", "glm"}  # a failure without a model adds none


async def test_latency_quantiles_per_bucket(sql_engine: Database) -> None:
    repo, writer = Repository(sql_engine), writer_for(sql_engine)
    writer.start()
    fast = [outcome(3, "api", seconds=0.3) for _ in range(98)]
    slow = [outcome(3, "api", seconds=25.0) for _ in range(2)]
    failed = [outcome(4, "api", seconds=90.0, failed=True)]  # an error has no answer time
    await writer.submit(*(repo.log_message(row) for row in fast + slow + failed))
    await writer.stop()

    series = await SeriesReader(sql_engine).read(DAY, NOW)

    p50, p99 = series.latency_p50[3], series.latency_p99[3]
    assert p50 is not None and 0.25 < p50 <= 0.5  # the class that holds 0.3 s
    assert p99 is not None and 20.0 < p99 <= 30.0  # the class that holds 25 s
    assert series.latency_p50[4] is None and series.latency_p99[2] is None


async def test_thumbs_up_share_per_provider_and_overall(sql_engine: Database) -> None:
    repo, writer = Repository(sql_engine), writer_for(sql_engine)
    writer.start()
    at = ORIGIN + 10 * DAY.step + 5.0
    votes = [("deepseek", 1), ("deepseek", 1), ("deepseek", -1), ("glm", -1), (None, 1)]
    await writer.submit(
        *(
            repo.save_rating(
                RatedAnswer(f"r{i}", "s", provider, "m", None), "telegram", "u", score, at
            )
            for i, (provider, score) in enumerate(votes)
        )
    )
    await writer.stop()

    series = await SeriesReader(sql_engine).read(DAY, NOW)

    assert series.thumbs_up["deepseek"][10] == pytest.approx(2 / 3)
    assert series.thumbs_up["glm"][10] == 0.0
    assert series.thumbs_up[""][10] == pytest.approx(3 / 5)
    assert series.thumbs_up["-"][10] == 1.0  # an answer whose provider was not recorded
    assert series.thumbs_up["deepseek"][9] is None  # no votes: nothing to show, not 0 %


async def test_an_empty_store_gives_empty_series(sql_engine: Database) -> None:
    series = await SeriesReader(sql_engine).read(WINDOWS["7d"], NOW)
    assert len(series.times) == 84 and series.messages == {} and series.thumbs_up == {}
    assert series.latency_p50 == [None] * 84


def test_quantile_interpolates_inside_the_class_like_histogram_quantile() -> None:
    counts = [0] * (len(LATENCY_BOUNDS) + 1)
    counts[LATENCY_BOUNDS.index(0.25)] = 10  # ten answers between 0.1 and 0.25 s
    assert quantile(counts, 0.5) == pytest.approx(0.175)
    counts[-1] = 10  # ten slower than the last bound: read as that bound
    assert quantile(counts, 0.99) == LATENCY_BOUNDS[-1]
    assert quantile([0] * len(counts), 0.5) is None


async def test_buckets_that_are_over_are_read_once(sql_engine: Database) -> None:
    """A later read asks the database only for the buckets not yet over: a row slipped into an
    old bucket behind its back is not seen (no such row is ever written: rows are written as
    messages are handled), a row in the newest bucket is."""
    repo, writer, reader = Repository(sql_engine), writer_for(sql_engine), SeriesReader(sql_engine)
    writer.start()
    await writer.submit(repo.log_message(outcome(50, "api")), repo.log_message(outcome(95, "api")))
    first = await reader.read(DAY, NOW)
    assert first.messages["api"][50] == 1 and first.messages["api"][95] == 1
    await writer.submit(repo.log_message(outcome(50, "api")), repo.log_message(outcome(95, "api")))
    await writer.stop()

    later = await reader.read(DAY, NOW + 1.0)
    assert later.messages["api"][50] == 1  # bucket 50 was over: kept from the first read
    assert later.messages["api"][95] == 2  # the bucket of now is read again
    fresh = await SeriesReader(sql_engine).read(DAY, NOW + 1.0)
    assert fresh.messages["api"][50] == 2 and fresh.messages["api"][95] == 2
    moved = await reader.read(DAY, NOW + DAY.step + SETTLE)  # a bucket later: all shift by one
    assert moved.messages["api"][49] == 1 and moved.messages["api"][94] == 2
    back = await reader.read(DAY, NOW - 2 * DAY.step)  # the clock stepped back: read afresh
    assert back == await SeriesReader(sql_engine).read(DAY, NOW - 2 * DAY.step)
    assert back.messages["api"][52] == 2
