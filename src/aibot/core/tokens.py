"""A cheap token estimate for the context budget (no tokenizer download, no per-model tables).

CJK text runs close to one token per character; other scripts average about four characters per
token. Erring high keeps the request under the model's window.
"""

from __future__ import annotations

import re

_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def estimate_tokens(text: str) -> int:
    wide = len(_WIDE.findall(text))
    return wide + (len(text) - wide + 3) // 4 + 4
