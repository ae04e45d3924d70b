"""Test cases from real conversations: a user's question, with the assistant's answer as the
reference, and the turns before it (since the last /reset) as history. Answers users rated
are tagged `rated-good` or `rated-bad` (by the sum of their 👍/👎), so reports show how a
model does on what people liked and on what they did not.

Everything is PII-masked before it leaves this module, because the cases end up in reports
that are shared. Rows are streamed and sampled with a seeded reservoir, so a month of traffic
is sampled in constant memory and the same seed picks the same conversations.
"""

from __future__ import annotations

import random
from collections import deque
from contextlib import aclosing
from dataclasses import dataclass

from aibot.core.messages import Message
from aibot.evaluation.archived import ArchivedRow, with_archived
from aibot.evaluation.dataset import Case
from aibot.ops.pii import mask_pii
from aibot.store.crypto import PLAIN, Cipher
from aibot.store.database import Database
from aibot.store.history_rows import turns_since

HISTORY_TURNS = 6
HISTORY_TAG = "history"
DAY = 86400.0


@dataclass(slots=True)
class _Turn:
    id: int
    role: str
    content: str
    after_reset: bool  # created after the conversation's last /reset
    rating: int | None = None  # sum of the users' 👍 (+1) and 👎 (-1) on an answer


async def sample_history(
    engine: Database,
    *,
    days: float,
    limit: int,
    now: float,
    seed: int,
    cipher: Cipher = PLAIN,
    archived: dict[str, list[ArchivedRow]] | None = None,
) -> list[Case]:
    """Up to `limit` question/answer pairs from the last `days`, oldest first; `archived`
    (evaluation/archived.py) adds the turns moved to the archive bucket."""
    if days <= 0 or limit < 1:
        raise ValueError("days must be positive and limit at least 1")
    rng = random.Random(seed)  # noqa: S311 - sampling, not security
    chosen: list[tuple[int, Case]] = []
    seen = 0
    session: str | None = None
    recent: deque[_Turn] = deque(maxlen=HISTORY_TURNS + 2)
    async with aclosing(turns_since(engine, now - days * DAY)) as stored:
        async for row in with_archived(stored, archived or {}):
            if row.session_key != session:
                session, recent = row.session_key, deque(maxlen=HISTORY_TURNS + 2)
            turn = _Turn(
                row.id,
                row.role,
                cipher.open(row.content),
                row.created_at > (row.context_from or 0.0),
                row.score,
            )
            if recent and turn.after_reset and not recent[-1].after_reset:
                recent.clear()  # the model did not see what came before the /reset
            question = recent[-1] if recent else None
            recent.append(turn)
            if (
                turn.role != "assistant"
                or question is None
                or question.role != "user"
                or not turn.content.strip()
                or not question.content.strip()
            ):
                continue
            seen += 1
            slot = len(chosen) if len(chosen) < limit else rng.randrange(seen)
            if slot < limit:
                case = _case(list(recent)[:-2], question, turn)
                if slot == len(chosen):
                    chosen.append((turn.id, case))
                else:
                    chosen[slot] = (turn.id, case)
    return [case for _, case in sorted(chosen, key=lambda item: item[0])]


def _case(before: list[_Turn], question: _Turn, answer: _Turn) -> Case:
    history = tuple(Message(t.role, mask_pii(t.content)) for t in before)
    rated = () if not answer.rating else ("rated-good" if answer.rating > 0 else "rated-bad",)
    return Case(
        id=f"turn-{answer.id}",
        question=mask_pii(question.content),
        reference=mask_pii(answer.content),
        history=history,
        tags=(HISTORY_TAG, *rated),
    )
