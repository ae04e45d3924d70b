"""Wiring of schedules: the scheduler over the store and the outbox, `/remind`, and how a
prompt job gets its answer (the model, with the job's tools through the tool loop)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from aibot.config import Config, ScheduleConfig
from aibot.core.messages import ChatRequest, ChatResult, Message
from aibot.core.sessions import Writer
from aibot.core.tool_support import ToolSupport
from aibot.core.tools import ToolCaller
from aibot.providers.router import ProviderRouter
from aibot.schedules.reminders import Reminders
from aibot.schedules.scheduler import Answer, Scheduler, SchedulerParts, job_session
from aibot.store.queues import QueueRows
from aibot.store.schedules import ScheduleRows


def prompt_answerer(config: Config, router: ProviderRouter, tools: ToolSupport) -> Answer:
    async def answer(job: ScheduleConfig) -> str:
        system = (
            [Message("system", config.session.system_prompt)]
            if config.session.system_prompt
            else []
        )
        request = ChatRequest([*system, Message("user", job.prompt or "")])

        async def complete(step: ChatRequest) -> ChatResult:
            return await router.complete(step, job.provider)

        offered = (
            await tools.loop.toolbox.offered(job.tools)
            if job.tools and router.supports_tools(job.provider)
            else []
        )
        if not offered:
            return (await complete(request)).text
        caller = ToolCaller(
            user_id=f"schedule:{job.name}",
            channel=job.target.channel,
            chat_id=job.target.chat_id,
            session_key=job_session(job),
            time_zone=job.time_zone,
            request_id=uuid.uuid4().hex,
        )
        done = await tools.loop.run(request, offered, caller, complete, None)
        return done.result.text

    return answer


def build_schedules(
    config: Config,
    *,
    rows: ScheduleRows,
    outbox: QueueRows,
    writer: Writer,
    router: ProviderRouter,
    tools: ToolSupport,
    on_reply: Callable[[], None],
    clock: Callable[[], float],
) -> tuple[Scheduler, Reminders]:
    parts = SchedulerParts(rows, outbox, writer, on_reply, prompt_answerer(config, router, tools))
    scheduler = Scheduler(parts, config.schedules, config.reminders, clock)
    return scheduler, Reminders(rows, config.reminders, config.tools.time_zone, clock)
