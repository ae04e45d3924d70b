"""The one write every producer of a reply needs: a row for the outbox (the inbox's answers,
platform events' greetings, a tool's question to the user)."""

from __future__ import annotations

from typing import Protocol

from aibot.core.messages import ReplyTarget
from aibot.core.sessions import WriteOp


class OutboxRows(Protocol):
    def enqueue_outbox(
        self,
        inbox_id: int | None,
        channel: str,
        session_key: str,
        target: ReplyTarget,
        text: str,
        now: float,
    ) -> WriteOp: ...
