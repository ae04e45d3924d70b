"""Platform events: the bot added to or removed from a group, a member joining.

Each event is recorded once (unique on the platform's id, like messages, so a re-delivery does
nothing), written to the audit log, and may send a configured greeting through the outbox —
the same durable, retried path as answers. When the bot is removed from a group, that group's
conversations are reset, so nothing from before is in context if it is added back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import structlog

from aibot.config import EventsConfig
from aibot.core.messages import ReplyTarget
from aibot.core.outbox_rows import OutboxRows
from aibot.core.sessions import SessionMemory, WriteOp, Writer
from aibot.i18n import pick, translate

log = structlog.get_logger("aibot.events")

EventKind = Literal["bot_added", "bot_removed", "member_joined", "user_entered", "contact_changed"]


@dataclass(frozen=True, slots=True)
class PlatformEvent:
    channel: str
    kind: EventKind
    event_id: str  # the platform's id, for dedupe
    chat_key: str  # the chat's session key (per-member sessions of a group extend it)
    target: ReplyTarget = field(default_factory=ReplyTarget)  # where a greeting is sent
    names: tuple[str, ...] = ()  # who joined, entered or changed


class EventStore(OutboxRows, Protocol):
    def record_event(
        self, channel: str, event_id: str, chat_key: str, kind: str, now: float
    ) -> WriteOp: ...

    def reset_chat(self, chat_key: str, now: float) -> WriteOp: ...

    def audit(self, actor: str, action: str, target: str, now: float) -> WriteOp: ...


class PlatformEvents:
    def __init__(
        self,
        store: EventStore,
        writer: Writer,
        memory: SessionMemory,
        config: EventsConfig,
        on_reply: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self._store = store
        self._writer = writer
        self._memory = memory
        self._config = config
        self._on_reply = on_reply
        self._clock = clock

    async def handle(self, event: PlatformEvent) -> None:
        now = self._clock()
        # Recorded first, on its own: its answer says whether this is a re-delivery. A crash
        # right after it loses the greeting, never doubles it.
        (recorded,) = await self._writer.submit(
            self._store.record_event(event.channel, event.event_id, event.chat_key, event.kind, now)
        )
        if recorded is None:
            return
        log.info(
            "platform event",
            channel=event.channel,
            kind=event.kind,
            chat=event.chat_key,
            who=list(event.names) or None,
        )
        ops = [
            self._store.audit(
                event.channel, f"event.{event.kind}", " ".join((event.chat_key, *event.names)), now
            )
        ]
        text = self._greeting(event)
        if text:
            ops.append(
                self._store.enqueue_outbox(
                    None, event.channel, event.chat_key, event.target, text, now
                )
            )
        if event.kind == "bot_removed" and self._config.reset_on_removal:
            ops.append(self._store.reset_chat(event.chat_key, now))
        await self._writer.submit(*ops)
        if event.kind == "bot_removed" and self._config.reset_on_removal:
            await self._memory.forget_chat(event.chat_key)  # once the reset is committed
        if text:
            self._on_reply()

    def _greeting(self, event: PlatformEvent) -> str | None:
        """The configured sentence; the built-in greeting in `ui.default_language` (a platform
        event names no reader), an admin's own as written."""
        language = pick(None)
        if event.kind == "bot_added":
            return translate(language, self._config.greeting) if self._config.greeting else None
        if event.kind == "member_joined" and self._config.welcome and event.names:
            return self._config.welcome.replace("{names}", ", ".join(event.names))
        if event.kind == "user_entered":
            greeting = self._config.app_greeting
            return translate(language, greeting) if greeting else None
        return None
