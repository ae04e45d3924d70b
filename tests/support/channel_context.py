"""A channel's context without a gateway, for unit tests that drive one channel directly."""

from __future__ import annotations

from typing import cast

from aibot.channels.base import ChannelContext, Clock
from aibot.core.events import PlatformEvents
from aibot.core.feedback import Feedback
from aibot.core.inbox import Inbox
from aibot.ops.metrics import Metrics


def bare_context(inbox: object = None, *, clock: Clock | None = None) -> ChannelContext:
    """Only the inbox (often a stub) is real; ratings and platform events are not used. `clock`
    drives the channel's time (the system clock by default)."""
    return ChannelContext(
        inbox=cast(Inbox, inbox),
        metrics=Metrics(),
        public_url=None,
        feedback=cast(Feedback, None),
        events=cast(PlatformEvents, None),
        clock=clock or Clock(),
    )
