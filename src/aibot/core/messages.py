"""The types that cross between channels, the core, the store and providers.

`Inbound` / `Outbound` are the only message types a channel hands to the core and gets back;
the core knows no platform. Where an answer goes is a `ReplyTarget`: typed fields the core and
the policies read, plus the platform's own reply data that only its channel reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

ChatType = Literal["private", "group"]
JsonValue: TypeAlias = "bool | int | float | str | list[JsonValue] | dict[str, JsonValue] | None"
_COMMON = ("chat_id", "chat_type", "request_id", "locale", "approval")


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """Where the reply to a message goes, as the channel that received it described it.

    The inbox, the policies and the outbox read only the common fields. `platform` holds what
    one platform needs to answer (a thread, the message replied to, a session webhook…); it is
    written and read only through that platform's typed view in its `inbound.py`, so no key
    is a contract between rooms. Stored as one flat JSON object (`to_json`), the shape stored
    rows have always had, so rows written before this type existed load unchanged.
    """

    chat_id: int | str | None = None  # the platform's chat (Telegram's are numbers)
    chat_type: ChatType | None = None
    request_id: str | None = None  # set on an answer from a model: channels offer 👍/👎 on it
    platform: Mapping[str, JsonValue] = field(default_factory=dict)
    # What the sender's side says they read (Telegram's language_code, a page's or an HTTP
    # caller's Accept-Language): the gateway's own replies follow it under `ui.language: auto`.
    locale: str | None = None
    # Set on a tool-approval question (`core/approvals.py`): platforms with buttons offer
    # approve/deny buttons that carry it; a press resolves that one question and nothing else.
    approval: str | None = None

    def answering(self, request_id: str) -> ReplyTarget:
        """The same target, for the answer to the request `request_id`."""
        return replace(self, request_id=request_id)

    def to_json(self) -> dict[str, JsonValue]:
        data = dict(self.platform)
        for name in _COMMON:
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReplyTarget:
        """Reads what `to_json` wrote; a common field of an unexpected type is left out."""
        chat_id, chat_type, request_id, locale, approval = (data.get(name) for name in _COMMON)
        return cls(
            chat_id if isinstance(chat_id, int | str) and not isinstance(chat_id, bool) else None,
            "group" if chat_type == "group" else "private" if chat_type == "private" else None,
            request_id if isinstance(request_id, str) else None,
            {key: value for key, value in data.items() if key not in _COMMON},
            locale if isinstance(locale, str) else None,
            approval if isinstance(approval, str) else None,
        )


# An `Attachment` travels with its `Inbound` and is stored with the inbox row before anything is
# downloaded: it holds only the platform's own ids (`ref`: a Telegram `file_id`, a Feishu
# `file_key`, a WeCom `MediaId`, a DingTalk `downloadCode`…), never a URL the sender chose, so a
# message redone after a crash fetches the same bytes again from the platform's own endpoint.
MediaKind = Literal["image", "audio", "file"]
KINDS: tuple[MediaKind, ...] = ("image", "audio", "file")


@dataclass(frozen=True, slots=True)
class Attachment:
    """One picture, voice note or file of a message.

    `ref` is read only by the channel that wrote it (its `media.py`). `mime`, `size` and `name`
    are what the platform announced (a sender may lie: the media room checks the bytes).
    `text` is what the platform already recognised (DingTalk's `recognition`), `blob` the
    content hash once the bytes are in the blob store (an upload to the HTTP API is stored
    before the message is handled).
    """

    kind: MediaKind
    ref: Mapping[str, JsonValue] = field(default_factory=dict)
    mime: str | None = None
    size: int | None = None
    name: str | None = None
    text: str | None = None
    blob: str | None = None

    def to_json(self) -> dict[str, JsonValue]:
        data: dict[str, JsonValue] = {"kind": self.kind, "ref": dict(self.ref)}
        for name in ("mime", "size", "name", "text", "blob"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attachment | None:
        """Reads what `to_json` wrote; None for anything else (an unknown kind)."""
        kind = data.get("kind")
        if kind not in KINDS:
            return None
        ref = data.get("ref")
        size = data.get("size")
        return cls(
            kind,
            dict(ref) if isinstance(ref, dict) else {},
            _text(data.get("mime")),
            size if isinstance(size, int) and not isinstance(size, bool) else None,
            _text(data.get("name")),
            _text(data.get("text")),
            _text(data.get("blob")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(slots=True)
class Inbound:
    channel: str
    session_key: str
    user_id: str
    text: str
    request_id: str
    received_at: float
    message_id: str | None = None
    target: ReplyTarget = field(default_factory=ReplyTarget)
    principal: str | None = None
    inbox_id: int | None = None
    model: str | None = None  # the provider an API caller named
    remember: bool = True  # False: a stateless call, no memory read or written
    # An API caller's OpenAI body, kept as sent: the model gets it with only the changes its
    # vendor needs, and the caller gets the vendor's answer as it came (see providers/).
    wire: dict[str, Any] | None = None
    tool_scope: tuple[str, ...] = ()  # gateway tools an API caller's key allows (see /v1)
    attachments: tuple[Attachment, ...] = ()  # pictures, voice, files (fetched when handled)
    # Pieces of one message the platform delivers apart (a Telegram album's media_group_id):
    # the inbox answers the pieces of a batch together (core/batches.py).
    batch: str | None = None
    joined: tuple[int, ...] = ()  # the other inbox rows of the batch this message answers

    # Policies (access lists, per-chat limits, routes) look at where a message came from.
    # Channels say so in `target`, which the inbox stores, so a redone message keeps it.
    @property
    def chat_id(self) -> str:
        return str(self.target.chat_id or self.session_key)

    @property
    def chat_type(self) -> ChatType:
        return "group" if self.target.chat_type == "group" else "private"


@dataclass(slots=True)
class Outbound:
    channel: str
    session_key: str
    text: str
    target: ReplyTarget
    created_at: float
    inbox_id: int | None = None
    outbox_id: int | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for; `arguments` is JSON text exactly as the model wrote
    it (it may be invalid JSON: the caller that runs the tool decides what to do with that)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Tool:
    """A function the model may call: OpenAI's `{"type": "function", "function": {…}}`."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None  # a JSON Schema
    strict: bool | None = None


@dataclass(slots=True)
class Message:
    role: str
    content: str
    reasoning: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant turn that called tools
    tool_call_id: str | None = None  # a tool's result answers this call
    name: str | None = None
    # Content parts (text, image_url, input_audio, file) sent instead of `content` when a
    # message is more than text; `content` then holds its text parts, for policies and logs.
    parts: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(slots=True)
class ChatRequest:
    """One model call. Built from typed fields by the gateway's own turns; an API caller's
    OpenAI body travels in `wire` instead, untouched, so a pass-through forwards every field it
    carries and the provider changes only what its vendor needs (see `providers/passthrough`)."""

    messages: list[Message]
    model: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    tools: list[Tool] | None = None
    tool_choice: str | dict[str, Any] | None = None  # "auto", "none", "required" or a named one
    extra: dict[str, Any] = field(default_factory=dict)  # other OpenAI fields: n, stop, seed…
    wire: dict[str, Any] | None = None


@dataclass(slots=True)
class ChatResult:
    text: str
    reasoning: str | None
    usage: Usage
    provider: str
    model: str
    finish_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    # A pass-through's answer: the provider's response as parsed, and its bytes as they came
    # (None once a policy changed `wire`, so the caller knows to serialise `wire` instead).
    wire: dict[str, Any] | None = None
    raw: bytes | None = None


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call: the first carries `id` and `name`, later ones more
    `arguments` text for the call at `index`."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class StreamDelta:
    """One piece of a streamed answer: visible text, hidden reasoning, tool-call pieces, or the
    final usage. A pass-through also keeps the event itself: `chunk` as parsed, `raw` as it
    came (None once a policy changed `chunk`)."""

    text: str = ""
    reasoning: str = ""
    usage: Usage | None = None
    finish_reason: str | None = None
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    chunk: dict[str, Any] | None = None
    raw: bytes | None = None


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
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant turn that called tools
    tool_call_id: str | None = None  # a tool result: the call it answers
    name: str | None = None  # a tool result: the tool's name


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
    target: ReplyTarget
    received_at: float
    attempts: int
    principal: str | None = None  # who sent it (an API key's name, a platform user)
    request_id: str | None = None  # the id its logs and answer carry
    attachments: tuple[Attachment, ...] = ()
    batch: str | None = None  # see `Inbound.batch`


@dataclass(slots=True)
class OutboxRow:
    id: int
    inbox_id: int | None
    channel: str
    session_key: str
    target: ReplyTarget
    text: str
    attempts: int
    created_at: float
    next_attempt_at: float
    owner: str | None = None  # the replica delivering it, when several run


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    """How one handled message went, without its text: the dashboard's history."""

    at: float
    channel: str
    provider: str | None
    failed: bool
    seconds: float
    tokens: int
