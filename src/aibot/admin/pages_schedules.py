"""The console's schedules page: each configured schedule with its state and latest runs;
operators pause, resume or run one now (audited). The schedules themselves are config.yaml's."""

from __future__ import annotations

from dataclasses import replace

from fastapi import Response

from aibot.admin.page import Call, ConsoleBase
from aibot.admin.words import _


class SchedulePages(ConsoleBase):
    async def schedules_page(self, call: Call) -> Response:
        views, runs = await self.gateway.schedules()
        shown = [replace(v, does=self.mask(v.does)) for v in views]
        return self.render("schedules.html", call.who, page="schedules", schedules=shown, runs=runs)

    async def pause_schedule(self, call: Call) -> Response:
        return await self._steer(call, "schedule.pause")

    async def resume_schedule(self, call: Call) -> Response:
        return await self._steer(call, "schedule.resume")

    async def run_schedule(self, call: Call) -> Response:
        return await self._steer(call, "schedule.run_now")

    async def _steer(self, call: Call, action: str) -> Response:
        name = str(call.request.path_params.get("name", ""))[:64]
        if action == "schedule.run_now":
            known = await self.gateway.run_schedule_now(name)
        else:
            known = await self.gateway.set_schedule_paused(name, action == "schedule.pause")
        if not known:
            return self.error(call.who, 404, _("No schedule with that name in config.yaml."))
        return await self._back(call, "/admin/schedules", action, name)
