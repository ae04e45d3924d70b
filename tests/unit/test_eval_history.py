"""Sampling eval cases from real conversations in a SQLite store filled by the repository."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from aibot.evaluation.history import sample_history
from aibot.store.database import Database
from aibot.store.engine import create_engine
from tests.support.eval_data import NOW, fill_store


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    await fill_store(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


async def test_questions_with_their_answers_and_context_are_sampled_masked(
    engine: Database,
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


async def test_limit_samples_reproducibly_by_seed(engine: Database) -> None:
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


async def test_an_answer_made_with_tools_is_sampled_with_its_question(tmp_path: Path) -> None:
    from aibot.core.messages import ToolCall, TurnRecord
    from aibot.store.engine import migrate
    from aibot.store.repository import Repository
    from tests.support.databases import writer_for

    engine = create_engine(f"sqlite:///{tmp_path / 'tools.db'}")
    await migrate(engine)
    writer = writer_for(engine)
    writer.start()
    repo = Repository(engine)
    at = NOW - 3600
    call = ToolCall("c1", "calculator", '{"expression": "6*7"}')
    await writer.submit(
        repo.save_conversation("web:1", "web", "1", at),
        *repo.add_turns(
            "web:1",
            [
                TurnRecord("user", "what is 6*7?", at),
                TurnRecord("assistant", "", at + 1, tool_calls=(call,)),
                TurnRecord("tool", "42", at + 2, tool_call_id="c1", name="calculator"),
                TurnRecord("assistant", "6*7 = 42", at + 3),
            ],
        ),
    )
    await writer.stop()
    (case,) = await sample_history(engine, days=7, limit=10, now=NOW, seed=1)
    assert (case.question, case.reference) == ("what is 6*7?", "6*7 = 42")
    await engine.dispose()
