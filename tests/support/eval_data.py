"""Data the eval tests share: the shipped sample test set, and a store filled with conversations
as the gateway writes them (personal data included, for the masking checks)."""

from __future__ import annotations

from pathlib import Path

import aibot.evaluation
from aibot.core.feedback import RatedAnswer
from aibot.core.messages import TurnRecord
from aibot.evaluation.history import DAY
from aibot.store.engine import create_engine, migrate, writer_engine
from aibot.store.repository import Repository
from aibot.store.writer import GroupCommitWriter

SAMPLES = Path(aibot.evaluation.__file__).parent / "samples" / "basic.jsonl"
NOW = 1_800_000_000.0
RAW_PHONE = "13812345678"
RAW_ID = "110101199003071234"
RAW_EMAIL = "li@example.com"


async def fill_store(url: str, now: float = NOW) -> None:
    """Conversations as the gateway stores them: turns with times, one /reset, one old chat."""
    engine = create_engine(url)
    await migrate(engine)
    repo = Repository(engine)
    writer = GroupCommitWriter(engine, make_sync_engine=writer_engine(url))
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
