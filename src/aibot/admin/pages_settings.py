"""The console's pages that steer the running gateway: channels (pause, resume), models
(default, canary) and policies. Changes to config.yaml go through the gateway's reloader, which
validates them like a hand edit; a refused change is undone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import Response
from fastapi.responses import RedirectResponse

from aibot import i18n
from aibot.admin.page import Call, ConsoleBase, secured
from aibot.admin.policy_edit import changes, describe, parse_form, word_sources, write_policy
from aibot.admin.stats import provider_counts
from aibot.admin.words import _
from aibot.config.edit import edit_config, restore
from aibot.config.edit import section as yaml_section
from aibot.i18n import N_
from aibot.store.quality import arm_stats, csat_by_day

QUALITY_WINDOW = 7 * 86400.0  # the models page compares providers over the last week
# What the policies page confirms after a change (`?done=…`).
SAVED = {
    "saved": N_("Saved to config.yaml and in force now."),
    "unchanged": N_("Nothing to save: the values are those in force."),
}


@dataclass(frozen=True)
class Refused:
    """A settings change that did not happen, in words, and its HTTP status."""

    message: str
    status: int


class SettingsPages(ConsoleBase):
    async def channels(self, call: Call) -> Response:
        readiness = await self.gateway.readiness(i18n.request_language())
        return self.render(
            "channels.html",
            call.who,
            page="channels",
            readiness=readiness,
            pausable=self.gateway.queued_channels(),
        )

    async def pause_channel(self, call: Call) -> Response:
        return await self._set_paused(call, paused=True)

    async def resume_channel(self, call: Call) -> Response:
        return await self._set_paused(call, paused=False)

    async def _set_paused(self, call: Call, *, paused: bool) -> Response:
        """Only channels whose messages go through the inbox (those with an outbox sender)."""
        name = str(call.request.path_params.get("name", ""))
        if name not in self.gateway.queued_channels():
            return self.error(
                call.who,
                404,
                _(
                    "No pausable channel with that name (web and api answer directly and "
                    "cannot be paused)."
                ),
            )
        if paused:
            await self.gateway.pause_channel(name)
            return await self._back(call, "/admin/channels", "channel.pause", name)
        started = await self.gateway.resume_channel(name)
        return await self._back(
            call,
            "/admin/channels",
            "channel.resume",
            f"{name} ({started} pending message(s) scheduled)",
        )

    async def models(self, call: Call) -> Response:
        state = self.gateway.models(i18n.request_language())
        since = self.clock() - QUALITY_WINDOW
        counts = provider_counts(self.gateway.metrics.render().decode())
        quality = [
            replace(
                await arm_stats(self.gateway.engine, p.name, since),
                calls=counts.get(p.name, (0, 0))[0],
                errors=counts.get(p.name, (0, 0))[1],
            )
            for p in state.providers
        ]
        return self.render(
            "models.html",
            call.who,
            page="models",
            providers=state.providers,
            fallbacks=state.fallbacks,
            problems=state.problems,
            quality=quality,
            canary=state.canary,
            csat=await csat_by_day(self.gateway.engine, since),
        )

    async def switch_model(self, call: Call) -> Response:
        name = call.form.get("provider", "")
        if name not in {p.name for p in self.gateway.models().providers}:
            return self.error(call.who, 400, _("No provider with that name."))
        previous = self.gateway.set_default_model(name)
        return await self._back(call, "/admin/models", "model.default", f"{previous} -> {name}")

    async def set_canary(self, call: Call) -> Response:
        """Starts, re-weights or ends (empty provider) the canary split, through config.yaml."""
        name = call.form.get("provider", "").strip()
        try:
            weight = float(call.form.get("weight", "0") or 0)
        except ValueError:
            return self.error(call.who, 400, _("The weight must be a number from 0 to 100."))
        known = {p.name for p in self.gateway.models().providers}
        if name and (name not in known or not 0 <= weight <= 100):
            return self.error(
                call.who, 400, _("Choose a configured provider and a weight from 0 to 100.")
            )

        def write(path: Path) -> bytes:
            def change(document: dict[str, Any]) -> None:
                models = yaml_section(document, "models")
                if name:
                    models["canary"] = {"provider": name, "weight": weight}
                else:
                    models.pop("canary", None)

            return edit_config(path, change)

        problem = await self._change_config(write)
        if problem is not None:
            return self.error(call.who, problem.status, problem.message)
        return await self._back(
            call,
            "/admin/models",
            "model.canary",
            f"{name} at {weight:g} %" if name else "split ended",
        )

    async def policies(
        self, call: Call, problem: str | None = None, status: int = 200, *, entered: bool = False
    ) -> Response:
        """What the running gateway enforces (the last config that loaded, not the file). After
        a refused change the form shows what was entered, beside the problem, to correct it."""
        loaded = self.gateway.reloader.loaded
        done = call.request.query_params.get("done", "")
        policy = loaded.config.policy
        return self.render(
            "policies.html",
            call.who,
            status,
            page="policies",
            policy=policy,
            sources=word_sources(policy),
            editable=loaded.path is not None,
            active_words=self.gateway.active_word_count(),
            problem=problem,
            notice=_(SAVED[done]) if done in SAVED and problem is None else None,
            entered=call.form if entered else None,
        )

    async def edit_policies(self, call: Call) -> Response:
        try:
            wanted = parse_form(call.form)
        except ValueError as exc:
            return await self.policies(call, str(exc), 400, entered=True)
        current = self.gateway.reloader.loaded.config.policy
        edits = changes(current, wanted)
        if not edits:
            return secured(RedirectResponse("/admin/policies?done=unchanged", 303))
        problem = await self._change_config(lambda path: write_policy(path, edits))
        if problem is not None:
            return await self.policies(call, problem.message, problem.status, entered=True)
        return await self._back(
            call, "/admin/policies?done=saved", "policy.edit", describe(current, edits)
        )

    async def _change_config(self, write: Callable[[Path], bytes]) -> Refused | None:
        """Writes config.yaml, then has the gateway reload it; if the reload refuses it, the
        file is put back. None when the change is live, else what went wrong."""
        reloader = self.gateway.reloader
        path = reloader.loaded.path
        if path is None:
            return Refused(
                _("Running on defaults without a config.yaml: settings are read-only here."), 409
            )
        async with self._config_edit:
            try:
                previous = await asyncio.to_thread(write, path)
            except (OSError, ValueError) as exc:
                return Refused(_("Could not change the file: {reason}", reason=str(exc)), 400)
            if not await reloader.reload("admin console"):
                # Taken before the next await: while the file is put back, the config watcher
                # may reload it (the running config, valid) and clear `last_refusal`.
                refusal = reloader.last_refusal
                await asyncio.to_thread(restore, path, previous)
                reason = refusal.say(i18n.request_language()) if refusal else ""
                return Refused(_("Refused; nothing changed: {reason}", reason=reason), 400)
        return None
