"""What a chat-platform channel offers the gateway, so the gateway wires every platform alike.

A channel receives (a webhook route, a long poll or a long connection), commits what it receives
to the durable inbox before acknowledging the platform, and sends the replies the outbox hands
it. Adding a platform means a package under `channels/` and one line in `gateway/registry.py`
(the rooms of a package are described in `channels/README.md`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aibot.channels.api_keys import ApiKeys
from aibot.core.events import PlatformEvents
from aibot.core.feedback import Feedback
from aibot.core.inbox import Inbox
from aibot.core.media import MediaFetcher
from aibot.core.messages import Inbound, Outbound
from aibot.core.pipeline import DeltaSink
from aibot.i18n import Phrase
from aibot.ops.metrics import Metrics

if TYPE_CHECKING:
    from fastapi import APIRouter  # a channel's webhooks, served by the full app (gateway/asgi.py)


@dataclass(frozen=True)
class Clock:
    """The time every channel reads, injected so that tests can drive it.

    `now` is wall-clock seconds since the epoch: what platform timestamps are compared with
    (signature windows, a session webhook's expiry) and what a message's arrival is stamped
    with. `monotonic` measures intervals (token lifetimes, send pacing, preview updates) and
    never jumps when the system clock is set.
    """

    now: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic


SYSTEM_CLOCK = Clock()  # for what runs outside a gateway (`ai-bot doctor`)


# What a channel's status says is wrong: its English msgid (marked with `N_`) and values, a
# `Phrase` — /readyz and the console say it in the reader's language, the log in English.
Problem = Phrase


def error_text(problem: Problem | None, language: str) -> str | None:
    """A status's `error` in `language` (None while nothing is wrong)."""
    return None if problem is None else problem.say(language)


@dataclass(frozen=True)
class ChannelContext:
    """What the gateway lends a channel: where to put messages and how to reach the outside."""

    inbox: Inbox
    metrics: Metrics
    public_url: str | None
    feedback: Feedback  # ratings from a platform's 👍/👎 buttons
    events: PlatformEvents  # bot added/removed, members joining
    clock: Clock = field(default_factory=Clock)
    keys: ApiKeys = field(default_factory=lambda: ApiKeys([]))  # callers of an HTTP API channel


class Channel(Protocol):
    name: str
    media: MediaFetcher | None  # downloads its attachments from the platform (`media.py`)

    @property
    def exclusive(self) -> bool:
        """Receiving must run on one replica at a time (a long poll or long connection); with
        several replicas only the lease holder starts it. Webhook receivers run everywhere."""

    async def start(self) -> None:
        """Begin receiving. A bad credential is reported through `status`, not raised."""

    async def stop(self) -> None:
        """Stop receiving; sending must keep working until `close` (the outbox's last pass)."""

    async def close(self) -> None:
        """Release connections; called after the outbox has stopped."""

    async def send(self, outbound: Outbound) -> None:
        """Deliver one reply; raise `SendError` (a `PlatformError`, usually) to have the outbox
        retry or dead-letter it."""

    def presence(self, inbound: Inbound) -> AbstractAsyncContextManager[DeltaSink | None]:
        """Wraps the model's work on `inbound` ("typing…"); may yield a sink for streaming."""

    def router(self) -> APIRouter | None:
        """The HTTP routes the platform calls (webhooks), or None."""

    def status(self, language: str) -> dict[str, Any]:
        """For /readyz and the console: at least `ok`; `error` says what the user must fix, in
        `language` (the reader's)."""
