"""The dashboard's history of handled messages (`store/series.py` reads it): each message's
outcome is kept in memory and written with the others of the same second, in one write, so a
message's own path pays a list append rather than a store write of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from aibot.core.messages import MessageOutcome
from aibot.core.sessions import SessionStore, Writer

log = structlog.get_logger("aibot.core")

FLUSH_SECONDS = 1.0
FLUSH_ROWS = 500


class MessageLog:
    def __init__(self, store: SessionStore, writer: Writer) -> None:
        self._store = store
        self._writer = writer
        self._pending: list[MessageOutcome] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, outcome: MessageOutcome) -> None:
        self._pending.append(outcome)
        if len(self._pending) >= FLUSH_ROWS:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Hands what is pending to the writer; nobody waits for it, and a lost row only
        thins the history. The gateway calls it once more before the writer stops."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        ops = [self._store.log_message(outcome) for outcome in rows]
        self._writer.submit_nowait(*ops).add_done_callback(_written)


def _written(future: asyncio.Future[list[Any]]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("message log rows not written", error=str(future.exception()))
