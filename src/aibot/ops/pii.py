"""Masking personal data (phone numbers, e-mail addresses, ID-card and bank-card numbers).

Used wherever real conversations leave the store for people or other systems to read: eval sets
sampled from history, exports, the admin console. It errs on the side of masking: a long digit
run that merely looks like a card number is hidden too, because a missed number leaks and an
extra mask costs nothing. Python's `\\b` treats CJK characters as word characters, so "是138…"
has no boundary; the patterns use explicit look-arounds on ASCII letters and digits instead.
"""

from __future__ import annotations

import re

_START = r"(?<![0-9A-Za-z])"
_END = r"(?![0-9A-Za-z])"

# Order matters: the 18-character ID card and phone numbers (which must stand alone, so never
# match inside a longer digit run) go before the generic 13-19 digit bank-card run, which would
# otherwise also swallow a 0086-prefixed mobile number.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")),
    # Mainland resident ID: 6-digit area, birth date YYYYMMDD, 3-digit sequence, check digit/X.
    (
        "id-card",
        re.compile(
            _START
            + r"\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
            + _END
        ),
    ),
    # Mainland mobile (optionally +86), landline with area code, and other E.164 numbers.
    (
        "phone",
        re.compile(
            _START
            + r"(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}"
            + _END
            + r"|"
            + _START
            + r"0\d{2,3}-\d{7,8}"
            + _END
            + r"|(?<![0-9A-Za-z+])\+\d{1,3}[ -]?\d{2,4}(?:[ -]?\d{2,4}){1,3}"
            + _END
        ),
    ),
    # Bank cards: 13-19 digits, optionally grouped by spaces or dashes as printed on the card.
    ("bank-card", re.compile(_START + r"\d{4}(?:[ -]?\d){9,15}" + _END)),
)


def mask_pii(text: str) -> str:
    """`text` with each personal datum replaced by its kind in brackets, e.g. `[phone]`."""
    for kind, pattern in _PATTERNS:
        text = pattern.sub(f"[{kind}]", text)
    return text
