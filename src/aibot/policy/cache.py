"""Answers to identical first questions reused for a while (off by default).

Only a conversation's first message qualifies: with history, the same words can mean something
else. The key folds the question (case, width, punctuation) and includes the route and model,
so a persona or model change never serves another's answer.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from aibot.policy.normalize import fold


def cache_key(question: str, route: str, provider: str) -> str:
    folded, _ = fold(question)
    material = f"{route}\x00{provider}\x00{folded}".encode()
    return hashlib.sha256(material).hexdigest()


class AnswerCache(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def put(self, key: str, answer: str, ttl: float) -> None: ...


class LocalAnswerCache:
    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._max = max_entries
        self._clock = clock

    async def get(self, key: str) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def put(self, key: str, answer: str, ttl: float) -> None:
        self._entries[key] = (answer, self._clock() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
