"""Splitting long answers into messages a platform accepts, at the nicest boundary.

Platforms count limits in their own units; Telegram (and this default) in UTF-16 code units,
which is never less than Python's code points, so a chunk that fits here fits a platform that
counts characters. The cut prefers a paragraph break, then a line, a sentence, a word.
"""

from __future__ import annotations

from collections.abc import Callable


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's limits and offsets.

    Python counts code points, so an emoji outside the BMP is 1 for ``len`` but 2 for Telegram;
    counting with ``len`` would let a chunk full of emoji exceed the 4096 limit.
    """
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _units(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


_TIERS: tuple[tuple[float, tuple[tuple[str, int], ...]], ...] = (
    (0.25, (("\n\n", 0),)),
    (0.33, (("\n", 0),)),
    (0.5, ((". ", 1), ("! ", 1), ("? ", 1), ("。", 1), ("！", 1), ("？", 1))),
    (0.5, ((" ", 0),)),
)


def _next_cut(text: str, start: int, limit: int) -> int:
    """Index at which the chunk starting at ``start`` should end (> start).

    The chunk ``text[start:cut]`` fits in ``limit`` UTF-16 units. Among the candidate cuts in
    the window the nicest kind wins (paragraph, line, sentence, word); with none, cut hard
    at the limit. Each kind must fill a minimum share of the window, so a boundary near the
    start does not produce a flurry of tiny messages.
    """
    units = 0
    end = start
    while end < len(text):
        units += _units(text[end])
        if units > limit:
            break
        end += 1
    if end >= len(text):
        return len(text)
    end = max(end, start + 1)  # a limit < 2 with an astral character: still make progress
    for share, tier in _TIERS:
        floor = start + int((end - start) * share)
        best = -1
        for sep, keep in tier:
            pos = text.rfind(sep, start, min(len(text), end - keep + len(sep)))
            if pos >= 0:
                best = max(best, pos + keep)
        if best > floor:
            return best
    return end


def text_ranges(
    text: str, limit: int, keep_indent: Callable[[int], bool] | None = None
) -> list[tuple[int, int]]:
    """Non-empty, whitespace-trimmed ``[a, b)`` ranges of ``text`` covering all its non-space.

    ``keep_indent(i)`` says whether the spaces before index ``i`` are significant (code
    indentation inside ``<pre>``); then a chunk starts at the beginning of that line's
    indentation instead of at its first non-space character. Telegram keeps leading
    whitespace that an entity covers, so a Python block's indentation survives the cut.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    out: list[tuple[int, int]] = []
    n = len(text)
    pos = 0
    while pos < n and text[pos].isspace():
        pos += 1
    while pos < n:
        cut = _next_cut(text, pos, limit)
        stop = cut
        while stop > pos and text[stop - 1].isspace():
            stop -= 1
        if stop > pos:
            out.append((pos, stop))
        pos = cut
        while pos < n and text[pos].isspace():
            pos += 1
        if keep_indent is not None and pos < n and keep_indent(pos):
            back = pos
            while back > cut and text[back - 1] in " \t":
                back -= 1
            if utf16_len(text[back:pos]) < limit:
                pos = back
    return out


def split_plain(text: str, limit: int) -> list[str]:
    """Split plain text into chunks of at most ``limit`` UTF-16 units, at the nicest boundary.

    Whitespace at the cuts is dropped (platforms trim it anyway) and whitespace-only chunks are
    never returned, because platforms refuse empty messages. Empty input gives ``[]``.
    """
    return [text[a:b] for a, b in text_ranges(text, limit)]
