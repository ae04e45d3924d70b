"""Masking personal data (phone numbers, e-mail addresses, ID-card and bank-card numbers).

Used wherever real conversations leave the store for people or other systems to read: eval sets
sampled from history, exports, the admin console, log lines. It errs on the side of masking,
because a missed number leaks and an extra mask costs little, but a bank card is a 13-19 digit
run that passes the Luhn check, as every issued card number does: platforms' numeric ids (a
WeCom MsgId is a 64-bit integer of 19 digits) are not, unless one passes the check by chance
(one in ten); such a number is still kept when a label names it as an id (`<MsgId>`,
`"msgid":`, `message_id=`, or the log field it is the value of). A number written in groups as
on a card is masked whatever precedes it: ids are never written so. Python's `\\b` treats CJK
characters as word characters, so "是138…" has no boundary; the patterns use explicit
look-arounds on ASCII letters and digits instead.

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
# alone, so never match inside a longer digit run) go before the 13-19 digit bank-card run
# (`_CARD`), which would otherwise also swallow a 0086-prefixed mobile number.
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
)
# Bank cards: 13-19 digits, optionally grouped by spaces or dashes as printed on the card.
_CARD = re.compile(_START + r"\d{4}(?:[ -]?\d){9,15}" + _END)
_GROUP_GAP = re.compile(r"[ -]")
# A name and the separator that gives it a value, just before a number: `MsgId>`, `"msgid": "`,
# `message_id=`. Searched in the few characters before the number only (constant work each).
_ID_LABEL = re.compile(r"([A-Za-z][A-Za-z0-9_-]{0,30})[\"']?[ ]?[:=>][ ]?[\"']?\Z")
_LABEL_REACH = 40
# Ids whose names end in a lowercase "id" with nothing between (WeCom's JSON and XML, Feishu,
# DingTalk); `…_id`, `…-id`, `…Id`, `…ID` and `id` itself are ids by their shape.
_ID_NAMES = frozenset({"msgid", "agentid", "corpid", "chatid", "userid", "openid", "unionid"})


def mask_pii(text: str, *, field: str = "") -> str:
    """`text` with each personal datum replaced by its kind in brackets, e.g. `[phone]`;
    `field` is the name `text` is the value of (a log line's key), a label like those in it.

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
    return _CARD.sub(lambda number: _card(number, field), text) + cut


def _card(number: re.Match[str], field: str) -> str:
    """`[bank-card]` for the longest Luhn-valid run the match starts with (the whole, or up to
    a gap between groups: a CVV may follow the card), unless it is an id; else the match."""
    written = number.group()
    for end in (
        len(written),
        *(gap.start() for gap in reversed(list(_GROUP_GAP.finditer(written)))),
    ):
        digits = _GROUP_GAP.sub("", written[:end])
        if len(digits) < 13 or not _luhn(digits):
            continue
        if end == len(digits) and _labelled_id(number.string, number.start(), field):
            return written
        return "[bank-card]" + written[end:]
    return written


def _luhn(digits: str) -> bool:
    total = 0
    for place, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if place % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _labelled_id(text: str, start: int, field: str) -> bool:
    """Whether the name just before `start` (or `field`, for a number that starts the text)
    names an id."""
    if start == 0 and field:
        return _is_id_name(field)
    label = _ID_LABEL.search(text, max(0, start - _LABEL_REACH), start)
    return label is not None and _is_id_name(label.group(1))


def _is_id_name(name: str) -> bool:
    lower = name.lower()
    return (
        lower == "id"
        or lower.endswith(("_id", "-id"))
        or name.endswith(("Id", "ID"))
        or lower in _ID_NAMES
    )


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
