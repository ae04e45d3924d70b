"""Sampling eval cases from real conversations in a SQLite store filled by the repository."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from aibot.core.feedback import RatedAnswer
from aibot.core.messages import TurnRecord
from aibot.evaluation.history import DAY, sample_history
from aibot.store.engine import create_engine, create_writer_engine, migrate
from aibot.store.repository import Repository
from aibot.store.writer import GroupCommitWriter

NOW = 1_800_000_000.0
RAW_PHONE = "13812345678"
RAW_ID = "110101199003071234"
RAW_EMAIL = "li@example.com"


async def fill_store(url: str, now: float = NOW) -> None:
    """Conversations as the gateway stores them: turns with times, one /reset, one old chat."""
    engine = create_engine(url)
    await migrate(engine)
    repo = Repository(engine)
    writer = GroupCommitWriter(engine, sync_engine=create_writer_engine(url))
    writer.start()
    day = now - DAY

    def turns(session: str, *items: tuple[str, str, float]) -> list[TurnRecord]:
        """Each question and its answer share a request id, as the gateway stores them."""
        return [
            TurnRecord(role, content, at, request_id=f"{session}-{i // 2}")
            for i, (role, content, at) in enumerate(items)
        ]

    await writer.submit(
        repo.save_conversation("tg:1", "telegram", "1", day),
        *repo.add_turns(
            "tg:1",
            turns(
                "tg:1",
                ("user", f"我的手机是{RAW_PHONE}，帮我记一下", day),
                ("assistant", f"好的，已记下 {RAW_PHONE}，也可发邮件到 {RAW_EMAIL}", day + 1),
                ("user", f"我的身份证号 {RAW_ID} 对吗？", day + 2),
                ("assistant", "格式正确。", day + 3),
            ),
        ),
        *(
            repo.save_rating(
                RatedAnswer(f"tg:1-{n}", "tg:1", "fake", "m", None),
                "telegram",
                user,
                score,
                day + 5,
            )
            for n, user, score in ((0, "1", 1), (1, "1", -1), (1, "2", -1))
        ),
    )
    await writer.submit(
        repo.save_conversation("web:2", "webchat", "2", day - 30 * DAY),
        *repo.add_turns(
            "web:2",
            turns(
                "web:2",
                ("user", "too old", day - 30 * DAY),
                ("assistant", "old answer", day - 30 * DAY + 1),
            ),
        ),
    )
    await writer.submit(
        repo.save_conversation("api:3", "api", "3", day, context_from=day + 5),
        *repo.add_turns(
            "api:3",
            turns(
                "api:3",
                ("user", "before reset", day),
                ("assistant", "answer before reset", day + 1),
                ("user", "after reset", day + 10),
                ("assistant", "answer after reset", day + 11),
                ("user", "never answered", day + 12),
            ),
        ),
    )
    await writer.stop()
    await engine.dispose()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    await fill_store(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


async def test_questions_with_their_answers_and_context_are_sampled_masked(
    engine: AsyncEngine,
) -> None:
    cases = await sample_history(engine, days=7, limit=100, now=NOW, seed=1)
    by_question = {c.question: c for c in cases}
    assert set(by_question) == {
        "我的手机是[phone]，帮我记一下",
        "我的身份证号 [id-card] 对吗？",
        "before reset",
        "after reset",
    }
    first = by_question["我的手机是[phone]，帮我记一下"]
    assert first.reference == "好的，已记下 [phone]，也可发邮件到 [email]" and first.history == ()
    second = by_question["我的身份证号 [id-card] 对吗？"]
    assert first.tags == ("history", "rated-good")
    assert second.reference == "格式正确。" and second.tags == ("history", "rated-bad")
    assert by_question["after reset"].tags == ("history",)  # not rated
    assert [m.content for m in second.history] == [first.question, first.reference]
    assert by_question["after reset"].history == ()  # the model never saw the earlier turns
    assert all(c.id.startswith("turn-") and "tg:1" not in c.id for c in cases)
    assert [c.id for c in cases] == sorted((c.id for c in cases), key=lambda i: int(i[5:]))


async def test_limit_samples_reproducibly_by_seed(engine: AsyncEngine) -> None:
    picks = {
        seed: [c.id for c in await sample_history(engine, days=7, limit=2, now=NOW, seed=seed)]
        for seed in range(8)
    }
    assert all(len(ids) == 2 for ids in picks.values())
    assert len({tuple(ids) for ids in picks.values()}) > 1  # different seeds, different picks
    again = await sample_history(engine, days=7, limit=2, now=NOW, seed=3)
    assert [c.id for c in again] == picks[3]
    assert await sample_history(engine, days=0.5, limit=5, now=NOW, seed=1) == []
    with pytest.raises(ValueError, match="positive"):
        await sample_history(engine, days=0, limit=5, now=NOW, seed=1)
