"""Stand-ins for the parts around an inbox (the dispatcher's lanes, the session lock, the
channel pauses) and the inbound message the inbox tests feed it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aibot.core.messages import Attachment, Inbound
from tests.support.clock import FakeClock


class Lanes:
    """The dispatcher, reduced to running each job as a task (or, `busy`, to queueing it)."""

    def __init__(self) -> None:
        self.jobs: list[asyncio.Task[None]] = []
        self.busy = False
        self.queued: list[Callable[[], Awaitable[None]]] = []

    def submit(self, session_key: str, job: Callable[[], Awaitable[None]]) -> asyncio.Future[None]:
        if self.busy:
            self.queued.append(job)
            return asyncio.get_running_loop().create_future()

        async def run() -> None:
            await job()

        task = asyncio.create_task(run())
        self.jobs.append(task)
        return task


def said(clock: FakeClock, number: int, batch: str | None, text: str = "") -> Inbound:
    attachments = (Attachment("image", {"file_id": f"f{number}"}),) if batch else ()
    return Inbound(
        "telegram", "s", "7", text, f"r{number}", clock(), f"m{number}",
        attachments=attachments, batch=batch,
    )  # fmt: skip


class AlwaysHeld:
    @contextlib.asynccontextmanager
    async def hold(self, session_key: str, *, wait: bool) -> AsyncIterator[bool]:
        yield True


class NoPauses:
    async def set_paused(self, channel: str, paused: bool) -> None:
        return None

    async def paused(self) -> set[str]:
        return set()
