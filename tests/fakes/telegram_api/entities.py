"""Shared by the TDLib-ported parsers: UTF-16 lengths, TDLib's entity order, detection, trim."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.fakes.telegram_api.protocol import JSON, TEXT_EMPTY, ApiError


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets (and of its limits)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class EntityParseError(Exception):
    """TDLib's parse error; the Bot API prefixes it with ``Bad Request: can't parse entities:``."""


# TDLib's priorities, used to order entities that start and end at the same place.
_PRIORITY = {
    "mention": 50,
    "hashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "bold": 90,
    "italic": 91,
    "code": 20,
    "pre": 11,
    "pre_code": 10,
    "text_link": 49,
    "text_mention": 49,
    "cashtag": 50,
    "phone_number": 50,
    "underline": 92,
    "strikethrough": 93,
    "blockquote": 0,
    "spoiler": 94,
    "custom_emoji": 99,
    "expandable_blockquote": 0,
}
# TDLib's names, as they appear in MarkdownV2 errors ("Can't find end of Bold entity ...").
_TD_NAME = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "pre_code": "PreCode",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
    "expandable_blockquote": "ExpandableBlockQuote",
}
_SPACE = frozenset(b" \t\r\n\0\v")  # TDLib's is_space, NUL included
_ALNUM = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_MDV2_RESERVED = b"_*[]()~`>#+-=|{}.!\n"
_LINK_SCHEMES = frozenset({"http", "https", "ftp", "tg", "ton", "tonsite"})
_USER_LINK_RE = re.compile(r"tg://user\?id=(\d+)", re.IGNORECASE)
_EMOJI_LINK_RE = re.compile(r"tg://emoji\?id=(\d+)", re.IGNORECASE)


@dataclass(slots=True)
class _Ent:
    type: str
    offset: int
    length: int
    arg: str = ""


def _first_unit(c: int) -> bool:
    return c & 0xC0 != 0x80


def _u16(c: int) -> int:
    """UTF-16 units of the character whose first UTF-8 byte is ``c`` (4-byte → surrogate pair)."""
    return 2 if c >= 0xF0 else 1


def _checked_link(url: str) -> str:
    """A cut-down ``LinkManager::get_checked_link``: '' for links Telegram would drop."""
    url = url.strip()
    if not url or any(ch.isspace() for ch in url):
        return ""
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    if scheme:
        return url if scheme.group(1).lower() in _LINK_SCHEMES else ""
    return "http://" + url if "." in url else ""


def _link_entity(offset: int, length: int, url: str) -> _Ent | None:
    user = _USER_LINK_RE.fullmatch(url.strip())
    if user:
        return _Ent("text_mention", offset, length, user.group(1))
    checked = _checked_link(url)
    return _Ent("text_link", offset, length, checked) if checked else None


def _sorted(entities: list[_Ent]) -> list[_Ent]:
    return sorted(entities, key=lambda e: (e.offset, -e.length, _PRIORITY.get(e.type, 50)))


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


_MENTION_RE = re.compile(r"@([A-Za-z0-9_]*)")
_COMMAND_RE = re.compile(r"/([A-Za-z0-9_]*)(?:@([A-Za-z0-9_]*))?")


def find_entities(text: str) -> list[JSON]:
    """``bot_command`` and ``mention`` entities as Telegram detects them (UTF-16 offsets)."""
    found: list[tuple[int, int, str]] = []  # (start, end) in code points, type
    for m in _MENTION_RE.finditer(text):
        start, end = m.span()
        if start and _is_word(text[start - 1]):
            continue
        if not 5 <= len(m.group(1)) <= 32 or (end < len(text) and _is_word(text[end])):
            continue
        found.append((start, end, "mention"))
    for m in _COMMAND_RE.finditer(text):
        start, end = m.span()
        if start and (_is_word(text[start - 1]) or text[start - 1] in "/<>"):
            continue
        if not 1 <= len(m.group(1)) <= 64:
            continue
        if m.group(2) is not None and not 3 <= len(m.group(2)) <= 32:
            continue
        if end < len(text) and (_is_word(text[end]) or text[end] in "/<>"):
            continue
        found.append((start, end, "bot_command"))
    found.sort()
    return [
        {"offset": utf16_len(text[:a]), "length": utf16_len(text[a:b]), "type": kind}
        for a, b, kind in found
    ]


def _entity_json(e: _Ent) -> JSON:
    out: JSON = {"offset": e.offset, "length": e.length, "type": e.type}
    if e.type == "pre_code":
        out["type"], out["language"] = "pre", e.arg
    elif e.type == "text_link":
        out["url"] = e.arg
    elif e.type == "text_mention":
        out["user"] = {"id": int(e.arg), "is_bot": False, "first_name": ""}
    elif e.type == "custom_emoji":
        out["custom_emoji_id"] = e.arg
    return out


def _trim(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """TDLib's trim in ``fix_formatted_text``: spaces and newlines at both ends go."""
    body = text.rstrip(" \n")
    if not body:
        raise ApiError(400, TEXT_EMPTY)
    end = utf16_len(body)
    kept = []
    for e in entities:
        if e["offset"] >= end or e["length"] <= 0:
            continue
        kept.append({**e, "length": min(e["length"], end - e["offset"])})
    first = min((e["offset"] for e in kept), default=end)
    lead = 0
    while lead < len(body) and lead < first and body[lead] in " \n":
        lead += 1
    return body[lead:], [{**e, "offset": e["offset"] - lead} for e in kept]
