"""The gateway's part in encryption at rest: prove the keys before serving, then finish any
in-place migration or rotation in the background while it serves. (`ai-bot run` proves them
before the server starts too, with its store check: cli/preflight.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import structlog

from aibot.store.crypto import Keyring
from aibot.store.data_keys import register, verify
from aibot.store.database import Database
from aibot.store.jobs import JobBusy, runner_name
from aibot.store.key_check import PLAIN_ID

log = structlog.get_logger("aibot.store")
BACKGROUND_PAUSE = 0.05  # between batches, so a migration never crowds out live traffic


class AtRest:
    def __init__(
        self,
        engine: Database,
        keyring: Keyring | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._engine = engine
        self._keyring = keyring
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await verify(self._engine, self._keyring)
        if self._keyring is None:
            return
        pending = await register(self._engine, self._keyring, self._clock())
        if PLAIN_ID in pending:
            # Encryption was just turned on for a store with data: migrate it in place. (Moving
            # to a new key is `ai-bot data-key rotate`, run when the operator chooses.)
            log.info("encrypting stored conversations in the background", replacing=pending)
            self._task = asyncio.create_task(self._rekey(self._keyring), name="rekey")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _rekey(self, keyring: Keyring) -> None:
        from aibot.store.rekey import Rekey  # with encryption on only

        job = Rekey(self._engine, keyring, runner_name(), pause=BACKGROUND_PAUSE, clock=self._clock)
        try:
            report = await job.run()
        except JobBusy as busy:
            log.info("another process is re-encrypting the store", runner=busy.owner)
            return
        except Exception as exc:  # the gateway serves on; `ai-bot data-key rotate` resumes it
            log.warning("background re-encryption stopped", error=str(exc)[:300])
            return
        log.info(
            "stored conversations re-encrypted", values=report.resealed, retired=report.retired
        )
