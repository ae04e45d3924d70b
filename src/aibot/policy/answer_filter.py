"""Sensitive words in a pass-through's answer: masked inside the provider's JSON, in place.

The answer stays the provider's: only the strings that hold a listed word are rewritten (every
choice's `content` and reasoning), and a choice that lost words ends with `finish_reason`
`content_filter`, which is what OpenAI says when its filter omitted content. Streamed, each
choice's text runs through its own `StreamGuard`, so a word is never shown even split across
events; the tail a guard still holds is let out just before that choice's finish event.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aibot.core.messages import ChatResult, StreamDelta
from aibot.core.wire_text import answer_texts
from aibot.policy.words import StreamGuard, WordMatcher

ChunkSink = Callable[[StreamDelta], Awaitable[None]]
CONTENT_FILTER = "content_filter"


def mask_answer(words: WordMatcher, result: ChatResult) -> int:
    """Masks the words in every choice of `result.wire`; returns how many there were."""
    total = 0
    for choice in _choices(result.wire):
        found = 0
        for slot in answer_texts(choice, "message"):
            masked, hits = words.mask(slot.text)
            if hits:
                slot.replace(masked)
                found += hits
        if found:
            choice["finish_reason"] = CONTENT_FILTER
            total += found
    if total:
        result.raw = None  # the bytes no longer say what `wire` says
    return total


class StreamedAnswerFilter:
    """Wraps a pass-through's event sink; `hits` counts the words masked."""

    def __init__(self, words: WordMatcher, sink: ChunkSink) -> None:
        self._words = words
        self._sink = sink
        self._guards: dict[tuple[int, str], StreamGuard] = {}
        self.hits = 0

    async def __call__(self, delta: StreamDelta) -> None:
        for choice in _choices(delta.chunk):
            given = choice.get("index")
            index = given if isinstance(given, int) else 0
            for slot in answer_texts(choice, "delta"):
                shown = self._guard(index, slot.key).feed(slot.text)
                if shown != slot.text:
                    slot.replace(shown)
                    delta.raw = None
            if choice.get("finish_reason"):
                await self._release(delta, index)
                if self._choice_hits(index):
                    choice["finish_reason"] = CONTENT_FILTER
                    delta.raw = None
        await self._sink(delta)

    def _guard(self, index: int, key: str) -> StreamGuard:
        guard = self._guards.get((index, key))
        if guard is None:
            guard = self._guards[(index, key)] = StreamGuard(self._words)
        return guard

    def _choice_hits(self, index: int) -> int:
        return sum(g.hits for (i, _), g in self._guards.items() if i == index)

    async def _release(self, delta: StreamDelta, index: int) -> None:
        """Sends what the choice's guards still hold, as one event before its finish event."""
        held = {key: g.finish() for (i, key), g in self._guards.items() if i == index}
        held = {key: text for key, text in held.items() if text}
        self.hits = sum(g.hits for g in self._guards.values())
        if not held or delta.chunk is None:
            return
        envelope = {k: v for k, v in delta.chunk.items() if k not in ("choices", "usage")}
        choice = {"index": index, "delta": held, "logprobs": None, "finish_reason": None}
        await self._sink(StreamDelta(chunk={**envelope, "choices": [choice]}))


def _choices(data: dict[str, Any] | None) -> list[dict[str, Any]]:
    choices = data.get("choices") if isinstance(data, dict) else None
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []
