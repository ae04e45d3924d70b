"""Sensitive-word matching on an Aho-Corasick automaton over folded text.

One pass finds every listed word however many there are (tens of thousands cost the same per
message). Matching runs on folded text (see `normalize`), and hits are mapped back to spans of
the original text, so masking keeps everything else the user or the model wrote.

Latin words must stand alone in the original text (no letter or digit right before or after),
so "vio" catches "V-I-O" but not "violin"; Chinese has no word boundaries and matches anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from aibot.policy.normalize import fold

MASK = "***"


def read_word_files(paths: Iterable[Path]) -> list[str]:
    """One word per line; blank lines and `#` comments skipped. Missing files raise."""
    words: list[str] = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                words.append(stripped)
    return words


@dataclass(frozen=True, slots=True)
class Hit:
    start: int  # index in the original text
    end: int  # exclusive


class WordMatcher:
    def __init__(self, words: Iterable[str]) -> None:
        self._automaton = ahocorasick.Automaton()
        longest = 0
        for word in words:
            folded, _ = fold(word)
            if folded:
                self._automaton.add_word(folded, (len(folded), folded.isascii()))
                longest = max(longest, len(folded))
        self.longest = longest
        if longest:
            self._automaton.make_automaton()

    def __bool__(self) -> bool:
        return self.longest > 0

    def __len__(self) -> int:
        return len(self._automaton)

    def hits(self, text: str) -> list[Hit]:
        """Spans of `text` holding a listed word, merged where they overlap, in order."""
        if not self.longest or not text:
            return []
        folded, origin = fold(text)
        spans: list[Hit] = []
        for end, (length, latin) in self._automaton.iter(folded):
            start, stop = origin[end - length + 1], origin[end] + 1
            if latin and (_joins(text, start - 1) or _joins(text, stop)):
                continue
            if spans and start <= spans[-1].end:
                spans[-1] = Hit(min(spans[-1].start, start), max(spans[-1].end, stop))
            else:
                spans.append(Hit(start, stop))
        return spans

    def mask(self, text: str) -> tuple[str, int]:
        """`text` with every hit replaced by ***, and how many there were."""
        hits = self.hits(text)
        if not hits:
            return text, 0
        parts: list[str] = []
        position = 0
        for hit in hits:
            parts += [text[position : hit.start], MASK]
            position = hit.end
        parts.append(text[position:])
        return "".join(parts), len(hits)


def _joins(text: str, index: int) -> bool:
    """Whether the character at `index` would make a Latin hit part of a longer word."""
    return 0 <= index < len(text) and text[index].isascii() and text[index].isalnum()


class StreamGuard:
    """Passes a streamed answer on, holding back the tail that a listed word could still use.

    A word not yet complete, or a Latin word whose next character is not known yet, lies
    within the last `longest` folded characters, so everything before them is final and can be
    shown, masked; a word straddling that point holds back from its start. Nothing forbidden
    is ever shown, not even for the moment between two edits, and the whole stream reads
    exactly as the whole answer masked at once.
    """

    def __init__(self, matcher: WordMatcher) -> None:
        self._matcher = matcher
        self._pending = ""
        self._before = ""  # the last character shown: a Latin word's left boundary
        self.hits = 0  # words masked so far

    def feed(self, piece: str) -> str:
        """The part of the stream now safe to show (masked)."""
        self._pending += piece
        return self._release(final=False)

    def finish(self) -> str:
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        text, offset = self._before + self._pending, len(self._before)
        hits = [hit for hit in self._matcher.hits(text) if hit.start >= offset]
        cut = len(text)
        if not final:
            folded, origin = fold(text)
            keep = self._matcher.longest
            if len(folded) <= keep:
                return ""
            cut = origin[len(folded) - keep]
            for hit in hits:
                if hit.start < cut < hit.end:
                    cut = hit.start
        if cut <= offset:
            return ""
        parts, position = [], offset
        for hit in hits:
            if hit.end <= cut:
                parts += [text[position : hit.start], MASK]
                position = hit.end
                self.hits += 1
        parts.append(text[position:cut])
        self._before, self._pending = text[cut - 1], text[cut:]
        return "".join(parts)
