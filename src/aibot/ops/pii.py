"""Masking personal data (phone numbers, e-mail addresses, ID-card and bank-card numbers).

Used wherever real conversations leave the store for people or other systems to read: eval sets
sampled from history, exports, the admin console. It errs on the side of masking: a long digit
run that merely looks like a card number is hidden too, because a missed number leaks and an
extra mask costs nothing. Python's `\\b` treats CJK characters as word characters, so "是138…"
has no boundary; the patterns use explicit look-arounds on ASCII letters and digits instead.

Masking runs on text users wrote, so its time must grow linearly with the text: the number
patterns have bounded repetitions only (constant work per position), and e-mail addresses, whose
parts are unbounded, are found by a hand-written scanner (`_email_spans`) that reads each
character a bounded number of times. It finds exactly what the regular expression
`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}` would, which backtracks
quadratically on long runs without `@`. A call also masks at most `MAX_MASKED_CHARS`; longer text
is cut there (see `mask_pii`).
"""

from __future__ import annotations

import re
from string import ascii_letters, digits

MAX_MASKED_CHARS = 1_048_576

_START = r"(?<![0-9A-Za-z])"
_END = r"(?![0-9A-Za-z])"
_LOCAL = frozenset(ascii_letters + digits + "._%+-")
_LABEL = frozenset(ascii_letters + digits + "-")
_LETTERS = frozenset(ascii_letters)
# What may be part of a datum, so a cut never leaves the unmasked half of one at the end.
_DATUM_TAIL = re.compile(r"[0-9A-Za-z@._%+ -]{1,64}\Z")

# Order matters: e-mail first, then the 18-character ID card and phone numbers (which must stand
# alone, so never match inside a longer digit run) go before the generic 13-19 digit bank-card
# run, which would otherwise also swallow a 0086-prefixed mobile number.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
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
    """`text` with each personal datum replaced by its kind in brackets, e.g. `[phone]`.

    Text longer than `MAX_MASKED_CHARS` is cut there first, together with any run of characters
    a datum could be made of just before the cut, and ends with `[… N characters cut]`: whoever
    reads masked text never gets more than that, nor half a phone number.
    """
    cut = ""
    if len(text) > MAX_MASKED_CHARS:
        head = text[:MAX_MASKED_CHARS]
        kept = head[:-64] + _DATUM_TAIL.sub("", head[-64:])
        cut = f"[… {len(text) - len(kept)} characters cut]"
        text = kept
    text = _mask_emails(text)
    for kind, pattern in _PATTERNS:
        text = pattern.sub(f"[{kind}]", text)
    return text + cut


def _mask_emails(text: str) -> str:
    spans = _email_spans(text)
    if not spans:
        return text
    pieces: list[str] = []
    done = 0
    for start, end in spans:
        pieces += (text[done:start], "[email]")
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def _email_spans(text: str) -> list[tuple[int, int]]:
    """Where the e-mail addresses are, leftmost first, as the regular expression finds them.

    An address needs an `@`: for each one, its local part is the run of local characters just
    before it (not reaching into the previous address), its domain is read by `_domain_end`.
    Local runs end at an `@` and domains stop at one, so each character is read at most twice.
    """
    spans: list[tuple[int, int]] = []
    searched = 0  # where the previous address ended: the next one starts no earlier
    at = text.find("@")
    while at != -1:
        start = at
        while start > searched and text[start - 1] in _LOCAL:
            start -= 1
        end = _domain_end(text, at + 1) if start < at else None
        if end is not None:
            spans.append((start, end))
            searched = end
        at = text.find("@", at + 1 if end is None else end)
    return spans


def _domain_end(text: str, index: int) -> int | None:
    """The end of the domain starting at `index`: labels of `[A-Za-z0-9-]` joined by dots,
    up to the letters that open the last label (after the first) starting with two or more of
    them — where the regex's greedy, backtracking match ends; None when no label qualifies."""
    size = len(text)
    end = index
    while end < size and text[end] in _LABEL:
        end += 1
    if end == index:
        return None
    found: int | None = None
    while end + 1 < size and text[end] == "." and text[end + 1] in _LABEL:
        label = end + 1
        letters = label
        while letters < size and text[letters] in _LETTERS:
            letters += 1
        end = letters
        while end < size and text[end] in _LABEL:
            end += 1
        if letters - label >= 2:
            found = letters
    return found
