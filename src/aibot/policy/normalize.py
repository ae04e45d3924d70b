"""Text folded so trivial evasions of a word list match: case, width, separators, script.

"违 禁 詞", "ＶＩＯ" and "v-i-o" fold to "违禁词" and "vio". Every folded character remembers
the index of the original character it came from, so a hit can be masked in the original text.
OpenCC (7 MB of tables) is loaded when the first non-ASCII character is folded, not at start.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import opencc


@cache
def _to_simplified() -> opencc.OpenCC:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=65536)
def fold_char(char: str) -> str:
    """One character folded: NFKC (full width → half width), casefold, traditional →
    simplified; separators (spaces, punctuation, symbols) fold to nothing."""
    folded = []
    for piece in unicodedata.normalize("NFKC", char).casefold():
        if unicodedata.category(piece)[0] in "LN":
            folded.append(piece)
    text = "".join(folded)
    return _to_simplified().convert(text) if text and not text.isascii() else text


def fold(text: str) -> tuple[str, list[int]]:
    """The folded text and, for each of its characters, the index in `text` it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for piece in fold_char(char):
            chars.append(piece)
            origin.append(index)
    return "".join(chars), origin
