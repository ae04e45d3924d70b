"""The types that cross between channels, the core, the store and providers.

`Inbound` / `Outbound` are the only message types a channel hands to the core and gets back;
the core knows no platform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Inbound:
    channel: str
    session_key: str
    user_id: str
    text: str
    request_id: str
    received_at: float
    message_id: str | None = None
    target: dict[str, Any] = field(default_factory=dict)
    principal: str | None = None
    inbox_id: int | None = None
    # Stateless OpenAI-style calls bring their own history and model/parameter choices.
    messages: list[Message] | None = None
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    remember: bool = True

    # Policies (access lists, per-chat limits, routes) look at where a message came from.
    # Channels say so in `target`, which the inbox stores, so a redone message keeps it.
    @property
    def chat_id(self) -> str:
        return str(self.target.get("chat_id") or self.session_key)

    @property
    def chat_type(self) -> str:
        return "group" if self.target.get("chat_type") == "group" else "private"


@dataclass(slots=True)
class Outbound:
    channel: str
    session_key: str
    text: str
    target: dict[str, Any]
    created_at: float
    inbox_id: int | None = None
    outbox_id: int | None = None
    attempts: int = 0


@dataclass(slots=True)
class Message:
    role: str
    content: str
    reasoning: str | None = None


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class ChatRequest:
    messages: list[Message]
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ChatResult:
    text: str
    reasoning: str | None
    usage: Usage
    provider: str
    model: str
    finish_reason: str | None = None


@dataclass(slots=True)
class StreamDelta:
    """One piece of a streamed answer: visible text, hidden reasoning, or the final usage."""

    text: str = ""
    reasoning: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None


@dataclass(slots=True)
class TurnRecord:
    role: str
    content: str
    created_at: float
    reasoning: str | None = None
    provider: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    request_id: str | None = None
    route: str | None = None
    # Derived once per turn: every later message of the session reuses them.
    tokens: int = 0
    _message: Message | None = None

    def as_message(self) -> Message:
        if self._message is None:
            self._message = Message(self.role, self.content, self.reasoning)
        return self._message


@dataclass(slots=True)
class ConversationRow:
    model: str | None
    context_from: float
    updated_at: float | None = None  # tells a replica whether its cached turns are current


@dataclass(slots=True)
class InboxRow:
    id: int
    channel: str
    message_id: str
    session_key: str
    user_id: str
    text: str
    target: dict[str, Any]
    received_at: float
    attempts: int


@dataclass(slots=True)
class OutboxRow:
    id: int
    inbox_id: int | None
    channel: str
    session_key: str
    target: dict[str, Any]
    text: str
    attempts: int
    created_at: float
    next_attempt_at: float
    owner: str | None = None  # the replica delivering it, when several run
