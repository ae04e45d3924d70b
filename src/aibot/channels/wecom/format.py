"""Splits answers under WeCom's 2048-byte limit, which counts UTF-8 bytes and truncates silently.

A Chinese character is 3 bytes, so the limit is about 680 characters of Chinese text. Cuts are
made at the last paragraph break, else line break, else sentence end, else space within the
limit (when that keeps at least half of it), and never inside a multi-byte character. Joining
the parts gives back the text (parts that would be only whitespace are left out).
"""

from __future__ import annotations

MAX_BYTES = 2048
_BREAKS = ("\n\n", "\n", "。", "！", "？", ". ", "! ", "? ", "；", "; ", "，", ", ", " ")


def split_utf8(text: str, limit: int = MAX_BYTES) -> list[str]:
    if limit < 4:
        raise ValueError("the limit must hold any one character (4 bytes)")
    parts: list[str] = []
    rest = text
    while len(rest.encode()) > limit:
        # Bytes past the limit that end mid-character are dropped by "ignore".
        head = rest.encode()[:limit].decode("utf-8", "ignore")
        cut = _best_cut(head)
        parts.append(rest[:cut])
        rest = rest[cut:]
    parts.append(rest)
    return [part for part in parts if part.strip()]


def _best_cut(head: str) -> int:
    for mark in _BREAKS:
        at = head.rfind(mark)
        if at >= len(head) // 2:
            return at + len(mark)
    return len(head)
