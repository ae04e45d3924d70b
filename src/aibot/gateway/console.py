"""The gateway as the admin console sees it (`admin/gateway_view.py`), and nothing more."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aibot.admin.access_tokens import IssuedToken
from aibot.admin.gateway_view import ModelsState, ProviderState, ScheduleRun, ScheduleView
from aibot.config.watch import ConfigReloader
from aibot.gateway.build import Gateway
from aibot.gateway.media import blob_store
from aibot.ops.metrics import Metrics
from aibot.store.archive.bucket import Bucket
from aibot.store.crypto import Cipher
from aibot.store.database import Database


class ConsoleView:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    @property
    def engine(self) -> Database:
        return self._gateway.engine

    @property
    def cipher(self) -> Cipher:
        return self._gateway.cipher

    @property
    def archive(self) -> Bucket | None:
        return self._gateway.archive

    @property
    def metrics(self) -> Metrics:
        return self._gateway.metrics

    @property
    def reloader(self) -> ConfigReloader:
        return self._gateway.reloader

    def media_path(self, blob: str) -> Path | None:
        try:
            path = blob_store(self._gateway.config).path(blob)
        except ValueError:
            return None
        return path if path.is_file() else None

    def mask_secrets(self, text: str) -> str:
        return self._gateway.masker.mask_text(text)

    async def readiness(self, language: str = "en") -> dict[str, Any]:
        return await self._gateway.readiness(language)

    async def schedules(self) -> tuple[list[ScheduleView], list[ScheduleRun]]:
        scheduler = self._gateway.scheduler
        rows = scheduler.rows
        states = await rows.job_states()
        views = [
            ScheduleView(
                job.name,
                job.cron,
                job.time_zone,
                job.target.channel,
                job.target.chat_id,
                job.message if job.message is not None else job.prompt or "",
                job.message is None,
                states[job.name].paused if job.name in states else False,
                states[job.name].next_due if job.name in states else None,
            )
            for job in scheduler.jobs.values()
        ]
        runs = [
            ScheduleRun(t.job, t.due_at, t.status, t.attempts) for t in await rows.recent_runs()
        ]
        return views, runs

    async def set_schedule_paused(self, name: str, paused: bool) -> bool:
        return await self._gateway.scheduler.set_paused(name, paused)

    async def run_schedule_now(self, name: str) -> bool:
        return await self._gateway.scheduler.run_now(name)

    def queued_channels(self) -> list[str]:
        return self._gateway.directory.names()

    async def pause_channel(self, name: str) -> None:
        await self._gateway.inbox.pause(name)

    async def resume_channel(self, name: str) -> int:
        return await self._gateway.inbox.resume(name)

    def models(self, language: str = "en") -> ModelsState:
        router = self._gateway.router
        return ModelsState(
            [
                ProviderState(
                    name, provider.model, router.breakers[name].state, name == router.default
                )
                for name, provider in router.providers.items()
            ],
            list(router.fallbacks),
            self._gateway.problems(language),
            self._gateway.policies.current.canary,
        )

    def set_default_model(self, name: str) -> str | None:
        router = self._gateway.router
        previous = router.default
        router.default = name  # the one owner; the catalog and the cache ask it
        return previous

    def active_word_count(self) -> int:
        return len(self._gateway.policies.current.words)

    async def refresh_api_keys(self) -> None:
        await self._gateway.keys.refresh()

    async def issue_access_token(self, subject: str, scope: str) -> IssuedToken | None:
        if not self._gateway.config.auth.jwt.enabled:
            return None
        return await self._gateway.access.issuer.issue(subject, scope)

    def wake_outbox(self) -> None:
        self._gateway.outbox.notify()
