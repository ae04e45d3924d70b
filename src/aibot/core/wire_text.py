"""The text inside OpenAI-shaped messages and answers, found without rebuilding them.

A pass-through keeps the caller's body and the provider's answer as JSON; policies still have
to read and sometimes mask the words in them. These helpers yield each text as a slot (the dict
that holds it and the key), so a policy rewrites one string in place and leaves every other
field, part and byte as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aibot.core.messages import Message, ToolCall

# Roles whose text a caller wrote (a tool's result or an earlier answer is not the caller's).
CALLER_ROLES = frozenset({"user", "system", "developer"})
# Where an answer's visible and hidden text sit in a choice's message or delta.
ANSWER_KEYS = ("content", "reasoning_content", "reasoning")


@dataclass(frozen=True, slots=True)
class TextSlot:
    holder: dict[str, Any]
    key: str

    @property
    def text(self) -> str:
        return str(self.holder[self.key])

    def replace(self, text: str) -> None:
        self.holder[self.key] = text


def caller_texts(messages: Any) -> Iterator[TextSlot]:
    """Every text the caller wrote: string contents and text parts of its own messages."""
    if not isinstance(messages, list):
        return
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in CALLER_ROLES:
            continue
        content = message.get("content")
        if isinstance(content, str):
            yield TextSlot(message, "content")
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    yield TextSlot(part, "text")


def answer_texts(choice: Any, where: str) -> Iterator[TextSlot]:
    """The texts of one choice of an answer (`where` is "message", or "delta" in a stream)."""
    holder = choice.get(where) if isinstance(choice, dict) else None
    if not isinstance(holder, dict):
        return
    for key in ANSWER_KEYS:
        if isinstance(holder.get(key), str) and holder[key]:
            yield TextSlot(holder, key)


def message_from_wire(message: dict[str, Any]) -> Message:
    """A caller's message as the gateway's type: text for memory and policies, the parts kept
    for the model (images, audio, files)."""
    content = message.get("content")
    parts = content if isinstance(content, list) else None
    text = "".join(s.text for s in caller_texts([{**message, "role": "user"}]))
    calls = tuple(
        ToolCall(
            str(call.get("id") or ""),
            str((call.get("function") or {}).get("name") or ""),
            str((call.get("function") or {}).get("arguments") or ""),
        )
        for call in message.get("tool_calls") or ()
        if isinstance(call, dict)
    )
    role = str(message.get("role") or "user")
    reasoning = message.get("reasoning_content")
    name = message.get("name")
    call_id = message.get("tool_call_id")
    return Message(
        "system" if role == "developer" else role,
        text,
        reasoning if isinstance(reasoning, str) else None,
        tool_calls=calls,
        tool_call_id=call_id if isinstance(call_id, str) else None,
        name=name if isinstance(name, str) else None,
        parts=parts,
    )
