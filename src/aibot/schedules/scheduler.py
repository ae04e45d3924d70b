"""The scheduler: turns admin schedules' runs into tasks, and sends due tasks exactly once.

Every `tick` seconds, on every replica: each configured schedule whose `next_due` has passed
becomes task rows and moves on (one unit, fenced, so one replica does it); then each due task is
claimed (a lease), its message produced (a reminder's words, a job's message, or the model's
answer to its prompt), and handed to the outbox in the same transaction that marks it sent.
Runs missed while the gateway was down: the latest one still within `misfire_grace` runs once,
the others are recorded as missed. Time comes only from the injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import structlog

from aibot.config import RemindersConfig, ScheduleConfig
from aibot.core.errors import StaleWrite
from aibot.core.messages import ReplyTarget
from aibot.core.sessions import Writer
from aibot.i18n import pick, translate
from aibot.schedules.cron import next_after
from aibot.store.jobs import runner_name
from aibot.store.queues import QueueRows
from aibot.store.schedules import JobState, ScheduleRows, TaskRow

log = structlog.get_logger("aibot.schedules")

Answer = Callable[[ScheduleConfig], Awaitable[str]]  # a prompt job's message, from the model
MAX_CATCH_UP = 100  # runs recorded per schedule and tick after a long outage
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class SchedulerParts:
    rows: ScheduleRows
    outbox: QueueRows
    writer: Writer
    on_reply: Callable[[], None]
    answer: Answer


def job_target(job: ScheduleConfig) -> ReplyTarget:
    return ReplyTarget(job.target.chat_id, job.target.chat_type)


def job_session(job: ScheduleConfig) -> str:
    return f"schedule:{job.name}"


class Scheduler:
    def __init__(
        self,
        parts: SchedulerParts,
        jobs: Sequence[ScheduleConfig],
        reminders: RemindersConfig,
        clock: Callable[[], float] = time.time,
        *,
        owner: str | None = None,
        tick: float = 1.0,
        lease: float = 300.0,
    ) -> None:
        self._parts = parts
        self.jobs = {job.name: job for job in jobs if job.enabled}
        self._reminders = reminders
        self._clock = clock
        self.owner = owner or runner_name()
        self._tick = tick
        self._lease = lease
        self._task: asyncio.Task[None] | None = None

    @property
    def rows(self) -> ScheduleRows:
        return self._parts.rows

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler tick failed; trying again")
            await asyncio.sleep(self._tick)

    async def tick(self) -> int:
        """One pass: plan the schedules' runs, send what is due; returns how many were sent."""
        now = self._clock()
        if self.jobs:  # with reminders only there is nothing to plan: one query a tick, not two
            states = await self._parts.rows.job_states()
            for job in self.jobs.values():
                await self._plan(job, states.get(job.name), now)
        sent = 0
        for task in await self._parts.rows.due(now):
            sent += await self.run(task)
        return sent

    async def _plan(self, job: ScheduleConfig, state: JobState | None, now: float) -> None:
        rows, writer = self._parts.rows, self._parts.writer
        if state is None:  # first seen: from now on (a new schedule does not backfill)
            await writer.submit(
                rows.init_job(job.name, next_after(job.cron, job.time_zone, now), now)
            )
            return
        due, runs = state.next_due, list[float]()
        while due <= now and len(runs) < MAX_CATCH_UP:
            runs.append(due)
            due = next_after(job.cron, job.time_zone, due)
        if not runs:
            return
        if due <= now:
            due = next_after(job.cron, job.time_zone, now)
        latest = runs[-1]
        ops = [rows.advance_job(job.name, state.next_due, due, now)]
        for run_at in runs:
            live = run_at == latest and now - run_at <= job.misfire_grace and not state.paused
            if state.paused:
                continue  # a paused schedule's runs are skipped, not recorded
            ops.append(
                rows.add(
                    kind="job", job=job.name, channel=job.target.channel,
                    session_key=job_session(job), target=job_target(job),
                    text=job.message or job.prompt or "", due_at=run_at, now=now,
                    status="pending" if live else "missed",
                )
            )  # fmt: skip
        with contextlib.suppress(StaleWrite):  # another replica planned these runs first
            await writer.submit(*ops)

    async def set_paused(self, name: str, paused: bool) -> bool:
        """Pauses or resumes a configured schedule (every replica reads it from the store)."""
        if name not in self.jobs:
            return False
        now, rows = self._clock(), self._parts.rows
        if name not in await rows.job_states():
            await self._parts.writer.submit(rows.init_job(name, self._first_due(name, now), now))
        await self._parts.writer.submit(rows.set_paused(name, paused, now))
        return True

    async def run_now(self, name: str) -> bool:
        """Adds a run of `name` due now; the next tick (of any replica) sends it once."""
        job = self.jobs.get(name)
        if job is None:
            return False
        now = self._clock()
        await self._parts.writer.submit(
            self._parts.rows.add(
                kind="job", job=job.name, channel=job.target.channel,
                session_key=job_session(job), target=job_target(job),
                text=job.message or job.prompt or "", due_at=now, now=now,
            )
        )  # fmt: skip
        return True

    def _first_due(self, name: str, now: float) -> float:
        job = self.jobs[name]
        return next_after(job.cron, job.time_zone, now)

    async def run(self, task: TaskRow) -> int:
        """Claims `task` and sends it; 1 if this process sent it."""
        parts, now = self._parts, self._clock()
        (mine,) = await parts.writer.submit(parts.rows.claim(task.id, self.owner, now, self._lease))
        if mine is None:
            return 0  # another process holds it, or it is done
        if self._too_late(task, now):
            log.info("scheduled task missed", task=task.id, job=task.job, due_at=task.due_at)
            return await self._finish(task, "missed", None)
        try:
            text = await self._message(task)
        except Exception as exc:
            log.warning("scheduled task failed", task=task.id, job=task.job, error=str(exc)[:300])
            if task.attempts + 1 >= MAX_ATTEMPTS:
                return await self._finish(task, "failed", None)
            return 0  # the lease lapses and a later tick tries again
        return await self._finish(task, "sent", text)

    def _too_late(self, task: TaskRow, now: float) -> bool:
        if task.kind == "reminder":
            return now - task.due_at > self._reminders.misfire_grace
        job = self.jobs.get(task.job)
        return job is None or now - task.due_at > max(job.misfire_grace, self._lease * 2)

    async def _message(self, task: TaskRow) -> str:
        if task.kind == "reminder":
            return translate(pick(task.target.locale), "⏰ Reminder: {text}", text=task.text)
        job = self.jobs[task.job]
        return job.message if job.message is not None else await self._parts.answer(job)

    async def _finish(self, task: TaskRow, status: str, text: str | None) -> int:
        parts, now = self._parts, self._clock()
        ops = [parts.rows.finish(task.id, self.owner, status, now)]
        if text:
            ops.append(
                parts.outbox.enqueue_outbox(
                    None, task.channel, task.session_key, task.target, text, now
                )
            )
        try:
            await parts.writer.submit(*ops)
        except StaleWrite:
            log.info("scheduled task finished by another process", task=task.id)
            return 0
        if text:
            parts.on_reply()
            log.info("scheduled task sent", task=task.id, job=task.job or None, kind=task.kind)
        return 1 if status == "sent" else 0
