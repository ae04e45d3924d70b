"""Users rate answers 👍/👎: by `/good` `/bad`, the web page's buttons or a platform's buttons.

A rating belongs to one answer (its request id) and one user, and a second rating by the same
user replaces the first, so a double click or a changed mind never counts twice. The answer's
provider, model and route are stored with it, so satisfaction can be compared between models
(a canary against the default) and routes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from aibot.core.sessions import SessionState, WriteOp, Writer
from aibot.ops.metrics import Metrics


@dataclass(frozen=True, slots=True)
class RatedAnswer:
    request_id: str
    session_key: str
    provider: str | None
    model: str | None
    route: str | None


class FeedbackStore(Protocol):
    async def answer(self, request_id: str) -> RatedAnswer | None: ...

    def save_rating(
        self, answer: RatedAnswer, channel: str, user_id: str, score: int, now: float
    ) -> WriteOp: ...


def button_data(score: int, request_id: str) -> str:
    """What a platform button carries (Telegram allows 64 bytes: this is at most 41)."""
    return f"rate:{1 if score > 0 else -1}:{request_id}"


def parse_button(data: str) -> tuple[int, str] | None:
    kind, _, rest = data.partition(":")
    score, _, request_id = rest.partition(":")
    if kind != "rate" or score not in ("1", "-1") or not request_id:
        return None
    return int(score), request_id


def last_answer_id(session: SessionState) -> str | None:
    for turn in reversed(session.turns):
        if turn["role"] == "assistant":
            return turn["request_id"]
    return None


class Feedback:
    def __init__(
        self, store: FeedbackStore, writer: Writer, metrics: Metrics, clock: Callable[[], float]
    ) -> None:
        self._store = store
        self._writer = writer
        self._metrics = metrics
        self._clock = clock

    async def rate(
        self,
        channel: str,
        user_id: str,
        score: int,
        request_id: str | None,
        *,
        session_key: str | None = None,
    ) -> RatedAnswer | None:
        """Stores the rating; None when there is no such answer (or it is another session's)."""
        if request_id is None:
            return None
        answer = await self._store.answer(request_id)
        if answer is None or (session_key is not None and answer.session_key != session_key):
            return None
        vote = 1 if score > 0 else -1
        await self._writer.submit(
            self._store.save_rating(answer, channel, user_id, vote, self._clock())
        )
        self._metrics.feedback.labels(
            channel, answer.provider or "", answer.route or "default", "good" if vote > 0 else "bad"
        ).inc()
        return answer
