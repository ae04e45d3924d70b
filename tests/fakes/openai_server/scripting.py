"""What a test scripts for the next chat-completions requests, and what the fake records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Fail:
    """Answer with an OpenAI-shaped error; ``retry_after`` (seconds) sets ``Retry-After``."""

    status: int = 500
    retry_after: float | None = None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Hang:
    """Sleep ``seconds`` before answering normally, so callers can exercise their timeouts."""

    seconds: float


@dataclass(frozen=True, slots=True)
class MalformedChunk:
    """Stream: after ``after_chunks`` chunks send ``data: {not json`` and carry on normally.

    Non-stream: a 200 whose body is that same broken JSON.
    """

    after_chunks: int = 2


@dataclass(frozen=True, slots=True)
class Truncate:
    """Drop the connection after ``after_chunks`` chunks, with no finish chunk and no [DONE].

    Non-stream: headers promise the full body, half of it is sent, then the connection drops.
    """

    after_chunks: int = 2


@dataclass(frozen=True, slots=True)
class GarbageBody:
    """A 200 whose body is an HTML error page, as a misbehaving proxy returns."""


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer ``text`` for this one request instead of what ``reply`` would say."""

    text: str


@dataclass(frozen=True, slots=True)
class CallTools:
    """Answer with these tool calls, ``(name, arguments JSON)`` each, whatever the request."""

    calls: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class StreamError:
    """Stream: after ``after_chunks`` events send an ``{"error": …}`` event and end the stream,
    as DashScope does when its output inspection fires mid-answer."""

    after_chunks: int = 2
    message: str = "Output data may contain inappropriate content."


Action = Fail | Hang | MalformedChunk | Truncate | GarbageBody | Reply | CallTools | StreamError


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as received; header names are lower-cased so lookups ignore spelling."""

    path: str
    headers: dict[str, str]
    json: Any
