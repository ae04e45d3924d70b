"""The channels a gateway runs, by name: who delivers a reply on a channel, who shows
"typing…" (or streams the answer as it is written) while one of its messages is worked on, and
who downloads its attachments from the platform.

The gateway makes one empty directory and gives it to the inbox and the outbox as they are
built; the channel registry fills it once the channels exist (a channel needs the inbox first,
so that order is fixed). The inbox and the outbox only ever read it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from aibot.core.media import MediaFetcher
from aibot.core.messages import Inbound, Outbound
from aibot.core.pipeline import DeltaSink

Presence = Callable[[Inbound], AbstractAsyncContextManager[DeltaSink | None]]


class ChannelSender(Protocol):
    async def send(self, outbound: Outbound) -> None:
        """Delivers one reply or raises SendError."""

    async def close(self) -> None:
        """Releases the sender's connections at shutdown."""


@contextlib.asynccontextmanager
async def no_presence(_inbound: Inbound) -> AsyncIterator[DeltaSink | None]:
    yield None


class ChannelDirectory:
    def __init__(self) -> None:
        self._senders: dict[str, ChannelSender] = {}
        self._presences: dict[str, Presence] = {}
        self._fetchers: dict[str, MediaFetcher] = {}

    def add(
        self,
        name: str,
        sender: ChannelSender,
        presence: Presence = no_presence,
        fetcher: MediaFetcher | None = None,
    ) -> None:
        if name in self._senders:
            raise ValueError(f"channel '{name}' is registered twice")
        self._senders[name] = sender
        self._presences[name] = presence
        if fetcher is not None:
            self._fetchers[name] = fetcher

    def fetcher(self, name: str) -> MediaFetcher | None:
        """Who downloads the channel's attachments from its platform (None: it has none)."""
        return self._fetchers.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._senders

    def names(self) -> list[str]:
        return list(self._senders)

    def sender(self, name: str) -> ChannelSender | None:
        return self._senders.get(name)

    def senders(self) -> list[ChannelSender]:
        return list(self._senders.values())

    def presence(self, inbound: Inbound) -> AbstractAsyncContextManager[DeltaSink | None]:
        """The channel's wrapper around the work on `inbound`; a no-op for a channel without."""
        return self._presences.get(inbound.channel, no_presence)(inbound)
