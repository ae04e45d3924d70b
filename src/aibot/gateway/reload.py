"""The gateway's side of a config reload: what a new, validated config changes while running.

`config/watch.py` reads and validates the file; this builds the policies of the new config (a
word list that cannot be read refuses the reload) and swaps them in whole, with the default
model, the fallbacks and the API keys of `channels.api` (a key removed there is refused from
then on: a leaked key is revoked by editing the file). Everything else waits for a restart.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from aibot import i18n
from aibot.channels.api_keys import ApiKeys
from aibot.config import LoadedConfig
from aibot.policy.policies import Policies, PolicyHolder
from aibot.providers.router import ProviderRouter

log = structlog.get_logger("aibot.reload")


class LiveSettings:
    def __init__(self, holder: PolicyHolder, router: ProviderRouter, keys: ApiKeys) -> None:
        self._holder = holder
        self._router = router
        self._keys = keys

    def watched_files(self) -> list[Path]:
        """The word lists of the live policies: editing one reloads like editing config.yaml."""
        return self._holder.current.watched_files

    async def apply(self, loaded: LoadedConfig, reason: str) -> None:
        new = loaded.config
        policies = await asyncio.to_thread(Policies, new)
        i18n.configure(new.ui.language, new.ui.default_language)
        self._holder.current = policies
        default = new.models.default
        if default in self._router.providers:
            self._router.default = default  # the one owner; the catalog and the cache ask it
        self._router.fallbacks = [f for f in new.models.fallbacks if f in self._router.providers]
        api = new.channels.api
        self._keys.configure([k.get_secret_value() for k in api.keys], api.admin_keys)
        log.info(
            "config reloaded", reason=reason, words=len(policies.words), routes=len(new.routes)
        )
