"""A fake Telegram Bot API server on loopback.

Why a fake: the Telegram channel must be tested over real sockets against the real wire format
(envelopes, error descriptions, long polling, webhook pushes with re-delivery), quickly and
without touching api.telegram.org. python-telegram-bot (PTB) is the independent client that keeps
this fake honest (``tests/unit/test_fake_telegram.py``); the entity parsers are ports of TDLib's
``parse_html`` / ``parse_markdown_v2`` / ``parse_markdown`` (td/telegram/MessageEntity.cpp), which
is what the Bot API server runs, so error texts and byte offsets match the real ones.

Use it in tests::

    async with FakeTelegram(token="123456:TEST-TOKEN", username="gw_test_bot") as tg:
        # point the code under test at tg.base_url (its ``api_base``)
        tg.user_message(42, "/ask@gw_test_bot hi")           # queue an update
        tg.script("sendMessage", Fail.flood(retry_after=3))   # next sendMessage gets a 429
        sent = await tg.wait_sent(1, chat_id=42)
        assert sent[0]["text"] == "..."

What it serves (``GET`` or ``POST``, JSON, form-encoded or multipart bodies, method names
case-insensitive, as Telegram): getMe, getUpdates, setWebhook, deleteWebhook, getWebhookInfo,
sendMessage, editMessageText, editMessageReplyMarkup, sendChatAction, deleteMessage,
sendMessageDraft (``drafts=True``), setMyCommands, getMyCommands, deleteMyCommands; more with
``register``.

Known simplifications (real Telegram does more): webhook deliveries are sequential (one in flight,
in update order) whatever ``max_connections`` says; sent messages carry only the entities that
came from ``parse_mode``/``entities`` (Telegram also auto-detects urls, mentions, hashtags, ...);
links in ``<a href>`` are kept as given (Telegram normalises them); no flood control unless
scripted; ``timeout`` of getUpdates may be fractional (handy for fast tests); and deliveries only
ever go to loopback hosts, whatever URL a test sets.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import http
import inspect
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp import web

from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_files import TelegramFiles

JSON = dict[str, Any]

# --------------------------------------------------------------------------- Telegram's words

UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
    "running"
)
CONFLICT_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
CONFLICT_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
TOO_LONG = "Bad Request: message is too long"
TEXT_EMPTY = "Bad Request: message text is empty"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
CHAT_NOT_FOUND = "Bad Request: chat not found"
CANT_PARSE = "Bad Request: can't parse entities: "
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
CANT_EDIT = "Bad Request: message can't be edited"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
THREAD_NOT_FOUND = "Bad Request: message thread not found"
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"
BLOCKED = "Forbidden: bot was blocked by the user"
MIGRATED = "Bad Request: group chat was upgraded to a supergroup chat"
SECRET_BAD_CHARS = "Bad Request: secret token contains unallowed characters"
WEBHOOK_NEEDS_HTTPS = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
WEBHOOK_BAD_PORT = (
    "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
)
# Not seen verbatim from Telegram; marked so nobody matches on them as if they were.
SECRET_TOO_LONG = "Bad Request: secret token is too long"  # [?]
BAD_MAX_CONNECTIONS = "Bad Request: bad webhook: max_connections must be between 1 and 100"  # [?]
WRONG_ACTION = "Bad Request: wrong parameter action in request"  # [?]
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CALLBACK_ANSWER_WINDOW = 15.0  # seconds a callback query can be answered  [?]

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# `allowed_updates: []` means all of these; chat_member & co. must be asked for by name.
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
SECRET_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")
TOKEN_FORMAT_RE = re.compile(r"\d+:[A-Za-z0-9_-]+")
WEBHOOK_PORTS = (80, 88, 443, 8443)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _phrase(code: int) -> str:
    try:
        return http.HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


def _default_description(code: int) -> str:
    return {
        400: "Bad Request",
        401: UNAUTHORIZED,
        403: BLOCKED,
        404: NOT_FOUND,
        409: CONFLICT_OTHER_POLL,
        429: "Too Many Requests: retry after 1",
        500: "Internal Server Error",
        502: "Bad Gateway",
    }.get(code) or _phrase(code)


# --------------------------------------------------------------------------- scripted actions


@dataclass(frozen=True, slots=True)
class Fail:
    """Answer with Telegram's error envelope (HTTP status = ``error_code``), or raw ``body``."""

    error_code: int
    description: str | None = None
    parameters: JSON | None = None
    body: bytes | None = None  # e.g. nginx's HTML page, as a real 502 sometimes is
    content_type: str = "text/html"

    @classmethod
    def flood(cls, retry_after: int = 1) -> Fail:
        """429 ``Too Many Requests: retry after N`` with ``parameters.retry_after``."""
        return cls(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )

    @classmethod
    def blocked(cls) -> Fail:
        """403 ``Forbidden: bot was blocked by the user``."""
        return cls(403, BLOCKED)

    @classmethod
    def migrated(cls, new_chat_id: int) -> Fail:
        """400 group-upgraded error with ``parameters.migrate_to_chat_id``."""
        return cls(400, MIGRATED, {"migrate_to_chat_id": new_chat_id})

    @classmethod
    def bad_gateway(cls, *, html: bool = False) -> Fail:
        """502; ``html=True`` answers nginx's page instead of JSON."""
        page = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>\r\n"
        return cls(502, "Bad Gateway", body=page if html else None)

    @classmethod
    def of(cls, code: int) -> Fail:
        """Telegram's usual error for ``code`` (429 → retry_after 1, 403 → blocked, ...)."""
        return cls.flood(1) if code == 429 else cls(code, _default_description(code))


@dataclass(frozen=True, slots=True)
class Hang:
    """Wait ``seconds`` before handling the call normally (to exercise client timeouts)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Drop:
    """Close the connection without answering."""


Action = Fail | Hang | Drop


class ApiError(Exception):
    """Raised by a method handler (also custom ones) to answer Telegram's error envelope."""

    def __init__(self, error_code: int, description: str, parameters: JSON | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters


# --------------------------------------------------------------------------- records


@dataclass(slots=True)
class ApiCall:
    """One Bot API call as received; ``status``/``response`` are filled in when answered."""

    method: str  # as spelled in the URL
    params: JSON  # typed: ints are ints, JSON-valued fields are decoded
    http_method: str
    content_type: str
    at: float  # loop time (monotonic) of arrival
    status: int | None = None
    response: Any = None


@dataclass(frozen=True, slots=True)
class ChatAction:
    chat_id: int | str
    action: str
    message_thread_id: int | None
    at: float  # loop time (monotonic), so tests can check the re-send interval


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST attempt: ``status`` is the HTTP status, or None with ``error`` set."""

    update_id: int
    attempt: int
    url: str
    secret_token: str | None
    status: int | None
    error: str | None
    at: float


@dataclass(slots=True)
class _Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    attempts: dict[int, int] = field(default_factory=dict)


# --------------------------------------------------------------------------- text and entities


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


def _decode_html_entity(src: bytes, pos: int) -> tuple[int, int]:
    """TDLib's ``decode_html_entity``: (code point, position after it), or (0, pos)."""
    end = pos + 1
    res = 0
    if src[pos + 1] == ord("#"):
        end += 1
        if src[pos + 2] == ord("x"):
            end += 1
            while src[end] in _HEX:
                res = res * 16 + int(chr(src[end]), 16)
                end += 1
        else:
            while src[end] in _DIGITS:
                res = res * 10 + src[end] - 48
                end += 1
        if res == 0 or res >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(src[end]).isascii() and chr(src[end]).isalpha():
            end += 1
        res = {b"lt": 60, b"gt": 62, b"amp": 38, b"quot": 34}.get(src[pos + 1 : end], 0)
        if not res:
            return 0, pos
    if src[end] == ord(";"):
        end += 1
    return res, end


def _encode_cp(code: int) -> bytes:
    return chr(code).encode("utf-8", "surrogatepass")


def parse_html(text: str) -> tuple[str, list[_Ent]]:
    """TDLib's ``parse_html``: the plain text and its entities, or ``EntityParseError``."""
    src = text.encode("utf-8", "surrogatepass") + b"\0\0\0"
    n = len(src) - 3
    out = bytearray()
    entities: list[_Ent] = []
    nested: list[tuple[str, str, int, int]] = []  # tag, argument, utf16 offset, out position
    u16 = 0
    i = 0
    while i < n:
        c = src[i]
        if c == ord("&"):
            code, after = _decode_html_entity(src, i)
            if code:
                u16 += 2 if code > 0xFFFF else 1
                out += _encode_cp(code)
                i = after
                continue
        if c != ord("<"):
            if _first_unit(c):
                u16 += _u16(c)
            out.append(c)
            i += 1
            continue
        begin = i
        i += 1
        if src[i] != ord("/"):
            i = _html_start_tag(src, begin, i, nested, u16, len(out))
        else:
            i = _html_end_tag(src, begin, i, nested, entities, out, u16)
        i += 1
    if nested:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    for entity in entities:
        if entity.type == "code":
            entity.arg = ""
    try:
        plain = bytes(out).decode("utf-8")
    except UnicodeDecodeError:
        raise EntityParseError(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        ) from None
    return plain, _sorted(entities)


_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)


def _html_start_tag(
    src: bytes, begin: int, i: int, nested: list[tuple[str, str, int, int]], u16: int, out_pos: int
) -> int:
    while src[i] not in _SPACE and src[i] != ord(">"):
        i += 1
    if src[i] == 0:
        raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
    tag = src[begin + 1 : i].decode("utf-8", "replace").lower()
    if tag not in _HTML_TAGS:
        raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
    argument = ""
    while src[i] != ord(">"):
        while src[i] != 0 and src[i] in _SPACE:
            i += 1
        if src[i] == ord(">"):
            break
        name_begin = i
        while src[i] not in _SPACE and src[i] not in b"=>/\"'":
            i += 1
        name = src[name_begin:i]
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
            )
        while src[i] != 0 and src[i] in _SPACE:
            i += 1
        if src[i] != ord("="):
            if src[i] == 0:
                raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            if tag == "blockquote" and name == b"expandable":
                argument = "1"
            continue
        i += 1
        while src[i] != 0 and src[i] in _SPACE:
            i += 1
        if src[i] == 0:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        if src[i] not in b"'\"":
            token_begin = i
            while src[i] in _ALNUM or src[i] in b".-":
                i += 1
            value = src[token_begin:i].decode().lower()
            if src[i] not in _SPACE and src[i] != ord(">"):
                raise EntityParseError(f"Unexpected end of name token at byte offset {token_begin}")
        else:
            quote = src[i]
            i += 1
            raw = bytearray()
            while src[i] != quote and src[i] != 0:
                if src[i] == ord("&"):
                    code, after = _decode_html_entity(src, i)
                    if code:
                        raw += _encode_cp(code)
                        i = after
                        continue
                raw.append(src[i])
                i += 1
            if src[i] == quote:
                i += 1
            value = bytes(raw).decode("utf-8", "replace")
        if src[i] == 0:
            raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
        if tag == "a" and name == b"href":
            argument = value
        elif tag == "code" and name == b"class" and value.startswith("language-"):
            argument = value[9:]
        elif tag == "span" and name == b"class" and value.startswith("tg-"):
            argument = value[3:]
        elif tag == "tg-emoji" and name == b"emoji-id":
            argument = value
        elif tag == "blockquote" and name == b"expandable":
            argument = "1"
    if tag == "span" and argument != "spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    nested.append((tag, argument, u16, out_pos))
    return i


_SIMPLE_HTML = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}


def _html_end_tag(
    src: bytes,
    begin: int,
    i: int,
    nested: list[tuple[str, str, int, int]],
    entities: list[_Ent],
    out: bytearray,
    u16: int,
) -> int:
    if not nested:
        raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
    while src[i] not in _SPACE and src[i] != ord(">"):
        i += 1
    end_name = src[begin + 2 : i].decode("utf-8", "replace").lower()
    while src[i] in _SPACE and src[i] != 0:
        i += 1
    if src[i] != ord(">"):
        raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
    tag, argument, offset, out_pos = nested.pop()
    if end_name and end_name != tag:
        raise EntityParseError(
            f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", found "</{end_name}>"'
        )
    length = u16 - offset
    if length <= 0:
        return i
    last = entities[-1] if entities else None
    same_span = last is not None and last.offset == offset and last.length == length
    if tag in _SIMPLE_HTML:
        entities.append(_Ent(_SIMPLE_HTML[tag], offset, length))
    elif tag == "tg-emoji":
        if not argument.isdigit() or int(argument) == 0:
            raise EntityParseError("Invalid custom emoji identifier specified")
        entities.append(_Ent("custom_emoji", offset, length, argument))
    elif tag == "a":
        url = argument or bytes(out[out_pos:]).decode("utf-8", "replace")
        if (link := _link_entity(offset, length, url)) is not None:
            entities.append(link)
    elif tag == "pre":
        if same_span and last is not None and last.type == "code" and last.arg:
            last.type = "pre_code"
        else:
            entities.append(_Ent("pre", offset, length))
    elif tag == "code":
        if same_span and last is not None and last.type == "pre" and argument:
            last.type, last.arg = "pre_code", argument
        else:
            entities.append(_Ent("code", offset, length, argument))
    elif tag == "blockquote":
        entities.append(_Ent("expandable_blockquote" if argument else "blockquote", offset, length))
    return i


def _reserved(ch: int) -> EntityParseError:
    return EntityParseError(
        f"Character '{chr(ch)}' is reserved and must be escaped with the preceding '\\'"
    )


def parse_markdown_v2(text: str) -> tuple[str, list[_Ent]]:
    """TDLib's ``parse_markdown_v2``: the plain text and its entities, or ``EntityParseError``."""
    src = text.encode("utf-8", "surrogatepass")
    n = len(src)
    src += b"\0\0\0"
    out = bytearray()
    entities: list[_Ent] = []
    nested: list[list[Any]] = []  # [type, argument, utf16 offset, byte offset, out position]
    u16 = 0
    have_quote = False
    can_quote = True
    i = 0
    while i < n:
        c = src[i]
        if c == ord("\\") and 0 < src[i + 1] <= 126:
            i += 1
            u16 += 1
            out.append(src[i])
            if src[i] != ord("\r"):
                can_quote = src[i] == ord("\n")
            i += 1
            continue
        in_code = bool(nested) and nested[-1][0] in ("code", "pre", "pre_code")
        if c not in (b"`" if in_code else _MDV2_RESERVED):
            if _first_unit(c):
                u16 += _u16(c)
                if c != ord("\r"):
                    can_quote = False
            out.append(c)
            i += 1
            continue
        if not _mdv2_is_end(src, i, n, nested, have_quote):
            kind: str | None
            argument = ""
            byte_offset = i
            if c == ord("_"):
                kind = "italic"
                if src[i + 1] == ord("_"):
                    kind = "underline"
                    i += 1
            elif c == ord("*"):
                kind = "bold"
            elif c == ord("~"):
                kind = "strikethrough"
            elif c == ord("|"):
                if src[i + 1] != ord("|"):
                    raise _reserved(c)
                i += 1
                kind = "spoiler"
            elif c == ord("["):
                kind = "text_link"
            elif c == ord("`"):
                kind = "code"
                if src[i + 1] == ord("`") and src[i + 2] == ord("`"):
                    i += 3
                    kind = "pre"
                    lang_end = i
                    while src[lang_end] not in _SPACE and src[lang_end] != ord("`"):
                        lang_end += 1
                    if i != lang_end and lang_end < n and src[lang_end] != ord("`"):
                        kind, argument = "pre_code", src[i:lang_end].decode("utf-8", "replace")
                        i = lang_end
                    if src[i] in b"\r\n":
                        i += 2 if src[i + 1] in b"\r\n" and src[i] != src[i + 1] else 1
                    i -= 1
            elif c == ord("!"):
                if src[i + 1] != ord("["):
                    raise _reserved(c)
                i += 1
                kind = "custom_emoji"
            elif c == ord("\n"):
                u16 += 1
                out.append(c)
                can_quote = True
                kind = None
            elif c == ord(">"):
                if not can_quote:
                    raise _reserved(c)
                kind = None if have_quote else "blockquote"
                have_quote = True
            else:
                raise _reserved(c)
            if kind is not None:
                nested.append([kind, argument, u16, byte_offset, len(out)])
            i += 1
            continue
        # end of an entity
        kind = nested[-1][0]
        if c == ord("\n") and kind != "blockquote":
            top = nested[-1]
            if kind != "spoiler" or not (
                top[3] == i - 2 or (top[3] == i - 3 and out and out[-1] == ord("\r"))
            ):
                raise _cant_find_end(top)
            nested.pop()
            if nested[-1][0] != "blockquote":
                raise _cant_find_end(nested[-1])
            kind = "expandable_blockquote"
        argument = nested[-1][1]
        skip = u16 == nested[-1][2]
        if kind in ("underline", "spoiler"):
            i += 1
        elif kind in ("pre", "pre_code"):
            i += 2
        elif kind == "text_link":
            if src[i + 1] != ord("("):
                url = bytes(out[nested[-1][4] :]).decode("utf-8", "replace")
            else:
                i, url = _mdv2_url(src, i + 2, n, "Can't find end of a URL at byte offset ")
            link = _link_entity(nested[-1][2], u16 - nested[-1][2], url)
            if link is None:
                skip = True
            else:
                kind, argument = link.type, link.arg
        elif kind == "custom_emoji":
            if src[i + 1] != ord("("):
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            i, url = _mdv2_url(
                src, i + 2, n, "Can't find end of a custom emoji URL at byte offset "
            )
            emoji = _EMOJI_LINK_RE.fullmatch(url)
            if emoji is None or int(emoji.group(1)) == 0:
                raise EntityParseError("Invalid custom emoji identifier specified")
            argument = emoji.group(1)
        elif kind in ("blockquote", "expandable_blockquote"):
            have_quote = False
            out.append(src[i])
            can_quote = True
            u16 += 1
            skip = False
        if not skip:
            entities.append(_Ent(kind, nested[-1][2], u16 - nested[-1][2], argument))
        nested.pop()
        i += 1
    if have_quote:
        kind = "blockquote"
        if nested[-1][0] == "spoiler" and nested[-1][3] == n - 2:
            nested.pop()
            kind = "expandable_blockquote"
        if nested[-1][0] == "blockquote":
            if u16 - nested[-1][2]:
                entities.append(_Ent(kind, nested[-1][2], u16 - nested[-1][2]))
            nested.pop()
    if nested:
        raise _cant_find_end(nested[-1])
    return bytes(out).decode("utf-8", "surrogatepass"), _sorted(entities)


def _cant_find_end(top: list[Any]) -> EntityParseError:
    return EntityParseError(f"Can't find end of {_TD_NAME[top[0]]} entity at byte offset {top[3]}")


def _mdv2_is_end(src: bytes, i: int, n: int, nested: list[list[Any]], have_quote: bool) -> bool:
    if not nested:
        return False
    c = src[i]
    if have_quote and c == ord("\n") and (i + 1 == n or src[i + 1] != ord(">")):
        return True
    kind = nested[-1][0]
    nxt = src[i + 1]
    return {
        "bold": c == ord("*"),
        "italic": c == ord("_") and nxt != ord("_"),
        "code": c == ord("`"),
        "pre": c == ord("`") and nxt == ord("`") and src[i + 2] == ord("`"),
        "pre_code": c == ord("`") and nxt == ord("`") and src[i + 2] == ord("`"),
        "text_link": c == ord("]"),
        "underline": c == ord("_") and nxt == ord("_"),
        "strikethrough": c == ord("~"),
        "spoiler": c == ord("|") and nxt == ord("|"),
        "custom_emoji": c == ord("]"),
    }.get(kind, False)


def _mdv2_url(src: bytes, i: int, n: int, error: str) -> tuple[int, str]:
    begin = i
    url = bytearray()
    while i < n and src[i] != ord(")"):
        if src[i] == ord("\\") and 0 < src[i + 1] <= 126:
            url.append(src[i + 1])
            i += 2
            continue
        url.append(src[i])
        i += 1
    if src[i] != ord(")"):
        raise EntityParseError(f"{error}{begin}")
    return i, bytes(url).decode("utf-8", "replace")


def parse_markdown(text: str) -> tuple[str, list[_Ent]]:
    """TDLib's legacy ``parse_markdown`` (parse_mode=Markdown)."""
    src = text.encode("utf-8", "surrogatepass")
    n = len(src)
    src += b"\0\0\0"
    out = bytearray()
    entities: list[_Ent] = []
    u16 = 0
    i = 0
    while i < n:
        c = src[i]
        if c == ord("\\") and src[i + 1] in b"_*`[":
            out.append(src[i + 1])
            u16 += 1
            i += 2
            continue
        if c not in b"_*`[":
            if _first_unit(c):
                u16 += _u16(c)
            out.append(c)
            i += 1
            continue
        begin = i
        end_char = ord("]") if c == ord("[") else c
        is_pre = False
        language = ""
        i += 1
        if c == ord("`") and src[i] == ord("`") and src[i + 1] == ord("`"):
            i += 2
            is_pre = True
            lang_end = i
            while src[lang_end] not in _SPACE and src[lang_end] != ord("`"):
                lang_end += 1
            if i != lang_end and lang_end < n and src[lang_end] != ord("`"):
                language = src[i:lang_end].decode("utf-8", "replace")
                i = lang_end
            if src[i] in b"\r\n":
                i += 2 if src[i + 1] in b"\r\n" and src[i] != src[i + 1] else 1
        offset = u16
        while i < n and (
            src[i] != end_char
            or (is_pre and not (src[i + 1] == ord("`") and src[i + 2] == ord("`")))
        ):
            if _first_unit(src[i]):
                u16 += _u16(src[i])
            out.append(src[i])
            i += 1
        if i == n:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")
        if offset != u16:
            length = u16 - offset
            if c == ord("_"):
                entities.append(_Ent("italic", offset, length))
            elif c == ord("*"):
                entities.append(_Ent("bold", offset, length))
            elif c == ord("["):
                if src[i + 1] != ord("("):
                    url = src[begin + 1 : i].decode("utf-8", "replace")
                else:
                    i += 2
                    url_begin = i
                    while i < n and src[i] != ord(")"):
                        i += 1
                    url = src[url_begin:i].decode("utf-8", "replace")
                if (link := _link_entity(offset, length, url)) is not None:
                    entities.append(link)
            elif is_pre:
                entities.append(_Ent("pre_code" if language else "pre", offset, length, language))
            else:
                entities.append(_Ent("code", offset, length))
        if is_pre:
            i += 2
        i += 1
    return bytes(out).decode("utf-8", "surrogatepass"), _sorted(entities)


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


# --------------------------------------------------------------------------- parameters

_INT_PARAMS = frozenset(
    {
        "offset",
        "limit",
        "message_id",
        "message_thread_id",
        "reply_to_message_id",
        "max_connections",
        "draft_id",
        "from_chat_id",
        "user_id",
    }
)
_FLOAT_PARAMS = frozenset({"timeout"})
_BOOL_PARAMS = frozenset(
    {
        "drop_pending_updates",
        "disable_notification",
        "protect_content",
        "disable_web_page_preview",
        "allow_sending_without_reply",
        "allow_paid_broadcast",
    }
)
_JSON_PARAMS = frozenset(
    {
        "allowed_updates",
        "reply_parameters",
        "reply_markup",
        "link_preview_options",
        "entities",
        "commands",
        "scope",
    }
)


def _coerce(name: str, value: Any) -> Any:
    """Type one parameter the way the Bot API server reads it from a form or query string."""
    if not isinstance(value, str):
        return value
    try:
        if name in _JSON_PARAMS:
            return orjson.loads(value)
        if name in _INT_PARAMS:
            return int(value)
        if name in _FLOAT_PARAMS:
            number = float(value)
            return int(number) if number.is_integer() else number
        if name in _BOOL_PARAMS:
            return value.strip().lower() in ("true", "1")
        if name == "chat_id" and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
    except (ValueError, orjson.JSONDecodeError):
        raise ApiError(400, f"Bad Request: can't parse {name}") from None  # [?] exact text
    return value


# --------------------------------------------------------------------------- the server

Handler = Callable[[JSON], Any]


class FakeTelegram:
    """A Telegram Bot API server for one bot (see the module docstring).

    Options: ``token``; the bot's ``username``, ``bot_id`` (default: the token's number) and
    ``first_name``; ``can_read_all_group_messages`` (privacy mode off) and ``can_join_groups``
    as getMe reports them; ``webhook_retry_delays`` (seconds before each re-delivery; after the
    last one the update is dropped, as Telegram "gives up after a reasonable amount of
    attempts"); ``webhook_timeout`` (seconds to wait for the receiver); ``strict_webhook_url``
    (demand HTTPS on 443/80/88/8443 as Telegram does; off by default so tests can use plain
    http on a loopback port); ``strict_chats`` (unknown chat ids → "chat not found" instead of
    being made up); ``max_text_length``/``count_utf16`` (the sendMessage limit and its unit;
    PROTOCOLS.md §8 leaves the unit open, UTF-16 is assumed); ``drafts`` (serve
    sendMessageDraft, or answer 404 like an older Bot API); ``clock`` (unix seconds for
    ``date`` fields); ``first_update_id``.
    """

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",  # noqa: S107 - a fake's default
        *,
        username: str = "gw_test_bot",
        bot_id: int | None = None,
        first_name: str = "Gateway Test Bot",
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        webhook_retry_delays: Sequence[float] = (0.05, 0.1, 0.2),
        webhook_timeout: float = 5.0,
        strict_webhook_url: bool = False,
        strict_chats: bool = False,
        max_text_length: int = 4096,
        count_utf16: bool = True,
        drafts: bool = True,
        clock: Callable[[], float] = time.time,
        first_update_id: int = 100_000_001,
    ) -> None:
        self.token = token
        self.username = username
        self.bot_id = bot_id if bot_id is not None else int(token.split(":", 1)[0] or 0)
        self.first_name = first_name
        self.can_join_groups = can_join_groups
        self.can_read_all_group_messages = can_read_all_group_messages
        self.webhook_retry_delays = tuple(webhook_retry_delays)
        self.webhook_timeout = webhook_timeout
        self.strict_webhook_url = strict_webhook_url
        self.strict_chats = strict_chats
        self.max_text_length = max_text_length
        self.count_utf16 = count_utf16
        self.drafts_enabled = drafts
        self.clock = clock

        # What tests read.
        self.requests: list[ApiCall] = []
        self.sent: list[JSON] = []  # Message objects the bot sent, as sent
        self.edits: list[JSON] = []  # Message objects after each successful edit
        self.deleted: list[tuple[int | str, int]] = []
        self.chat_actions: list[ChatAction] = []
        self.drafts: list[JSON] = []
        self.deliveries: list[Delivery] = []
        self.dropped_updates: list[JSON] = []  # given up after the last webhook retry
        self.commands: list[JSON] = []
        self.callback_answers: list[JSON] = []  # answerCallbackQuery calls, as made
        # State tests may set directly.
        self.blocked_chats: set[int] = set()  # sends answer 403 "bot was blocked by the user"
        self.migrated_chats: dict[int, int] = {}  # old group id -> supergroup id

        self._updates: list[JSON] = []
        self._next_update_id = first_update_id
        self._allowed_updates: list[str] | None = None
        self._webhook = _Webhook()
        self._poller: object | None = None
        self._chats: dict[int, JSON] = {}
        self._topics: dict[int, set[int]] = {}
        self._messages: dict[tuple[int, int], JSON] = {}
        self._open_queries: dict[str, float] = {}  # callback query id -> when it was pressed
        self._next_message_id: dict[int, int] = {}
        self._script: dict[str, deque[Action]] = {}
        self._handlers: dict[str, tuple[str, Handler]] = {}
        self._changed = asyncio.Event()
        self._closing = False
        self._server = LoopbackServer()
        self._http: aiohttp.ClientSession | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._base_url: str | None = None
        self.files = TelegramFiles(self, ApiError)
        for name, handler in (
            ("getFile", self.files.get_file),
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_reply_markup),
            ("sendChatAction", self._send_chat_action),
            ("deleteMessage", self._delete_message),
            ("sendMessageDraft", self._send_message_draft),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("answerCallbackQuery", self._answer_callback_query),
        ):
            self.register(name, handler)

    # -- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port; see ``base_url``)."""
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("GET", "/bot{token}/{method:.*}", self._handle)
        app.router.add_route("POST", "/bot{token}/{method:.*}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self.files.download)
        self._base_url = await self._server.start(app, host, port)
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.webhook_timeout)
        )
        self._deliverer = asyncio.create_task(self._deliver_forever())

    async def stop(self) -> None:
        """Stop delivering, answer waiting long polls, close the listener."""
        self._closing = True
        self._notify()
        if self._deliverer is not None:
            self._deliverer.cancel()
            await asyncio.gather(self._deliverer, return_exceptions=True)
            self._deliverer = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        await self._server.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: a client's ``api_base`` (it appends ``/bot<token>/…``).

        PTB wants ``Bot(token, base_url=f"{fake.base_url}/bot")`` (it appends the token).
        """
        if self._base_url is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._base_url

    @property
    def bot_url(self) -> str:
        """``http://127.0.0.1:PORT/bot<token>``; a method's URL is ``f"{bot_url}/sendMessage"``."""
        return f"{self.base_url}/bot{self.token}"

    @property
    def bot_user(self) -> JSON:
        """The bot as a ``User`` object (``from`` of its messages)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    # -- test controls: updates

    def push_update(self, update: JSON) -> JSON:
        """Queue ``update`` (an ``update_id`` is assigned if missing) for polling or the webhook."""
        update = dict(update)
        if "update_id" not in update:
            update["update_id"] = self._next_update_id
        self._next_update_id = max(self._next_update_id, int(update["update_id"])) + 1
        self._updates.append(update)
        self._notify()
        return update

    def user_message(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ann",
        username: str | None = "ann",
        language_code: str = "en",
        chat_type: str | None = None,
        title: str = "Team",
        entities: list[JSON] | None = None,
        reply_to_bot: bool = False,
        reply_to: int | None = None,
        message_thread_id: int | None = None,
        media: JSON | None = None,
    ) -> JSON:
        """Queue a user's text message as Telegram would deliver it, and return the update.

        ``media`` (a ``photo``/``voice``/``document``… field from ``files``) makes it a media
        message: ``text`` is then its ``caption`` (none when empty).

        ``chat_type`` defaults from the id: positive → private, ``-100`` + 10 digits (or any
        ``message_thread_id``) → supergroup, other negative → group. In a private chat the
        user is the chat (``user_id`` = ``chat_id``).
        ``entities=None`` detects ``bot_command`` and ``mention`` entities (UTF-16 offsets);
        pass a list to set them. ``reply_to_bot`` replies to the bot's latest message in the
        chat (one is made up if there is none); ``reply_to`` replies to a given message id.
        ``message_thread_id`` makes the chat a forum and the message a topic message.
        """
        kind = chat_type or ("supergroup" if message_thread_id is not None else _kind_of(chat_id))
        if kind == "private":
            if user_id is not None and user_id != chat_id:
                raise ValueError("in a private chat the user id is the chat id")
            user_id = chat_id
        user: JSON = {
            "id": user_id if user_id is not None else 777,
            "is_bot": False,
            "first_name": first_name,
        }
        if username:
            user["username"] = username
        user["language_code"] = language_code
        chat = self._remember_chat(
            chat_id, kind, user=user, title=title, forum=message_thread_id is not None
        )
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "from": user,
            "chat": chat,
            "date": int(self.clock()),
        }
        if message_thread_id is not None:
            self._topics.setdefault(chat_id, set()).add(message_thread_id)
            message["message_thread_id"] = message_thread_id
            message["is_topic_message"] = True
        target = self._reply_target(chat_id, reply_to, reply_to_bot)
        if target is not None:
            message["reply_to_message"] = target
        found = find_entities(text) if entities is None else entities
        if media is None:
            message["text"] = text
            if found:
                message["entities"] = found
        else:
            message.update(media)
            if text:
                message["caption"] = text
                if found:
                    message["caption_entities"] = found
        self._messages[(chat_id, message["message_id"])] = message
        return self.push_update({"message": copy.deepcopy(message)})

    def bot_membership(
        self,
        chat_id: int,
        status: str,
        *,
        was: str = "left",
        by_user: int = 777,
        title: str = "Team",
    ) -> JSON:
        """Queue the ``my_chat_member`` update Telegram sends when someone adds the bot to a
        group (``status`` member/administrator) or removes it (left/kicked)."""
        chat = self._remember_chat(chat_id, _kind_of(chat_id), title=title)

        def member(state: str) -> JSON:
            return {"user": copy.deepcopy(self.bot_user), "status": state}

        return self.push_update(
            {
                "my_chat_member": {
                    "chat": copy.deepcopy(chat),
                    "date": int(self.clock()),
                    "from": {"id": by_user, "is_bot": False, "first_name": "Admin"},
                    "old_chat_member": member(was),
                    "new_chat_member": member(status),
                }
            }
        )

    def members_joined(self, chat_id: int, names: Sequence[str], *, title: str = "Team") -> JSON:
        """Queue the service message of people joining a group (``new_chat_members``)."""
        chat = self._remember_chat(chat_id, _kind_of(chat_id), title=title)
        members = [
            {"id": 5000 + i, "is_bot": False, "first_name": name} for i, name in enumerate(names)
        ]
        message: JSON = {
            "message_id": self._new_message_id(chat_id),
            "from": members[0],
            "chat": copy.deepcopy(chat),
            "date": int(self.clock()),
            "new_chat_members": members,
        }
        self._messages[(chat_id, message["message_id"])] = message
        return self.push_update({"message": copy.deepcopy(message)})

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        first_name: str = "Ann",
    ) -> JSON:
        """Queue the ``callback_query`` of a user pressing the bot's inline button ``data``.

        Only buttons the bot really attached can be pressed (``ValueError`` otherwise). In a
        private chat the presser is the chat's user.
        """
        message = self._messages.get((chat_id, message_id))
        buttons = [
            button
            for row in ((message or {}).get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
        ]
        if not any(button.get("callback_data") == data for button in buttons):
            raise ValueError(f"message {message_id} in {chat_id} has no button {data!r}")
        assert message is not None
        presser = chat_id if _kind_of(chat_id) == "private" else (user_id or 777)
        query_id = str(uuid.uuid4().int)[:19]
        self._open_queries[query_id] = self.clock()
        return self.push_update(
            {
                "callback_query": {
                    "id": query_id,
                    "from": {"id": presser, "is_bot": False, "first_name": first_name},
                    "message": copy.deepcopy(message),
                    "chat_instance": str(abs(chat_id) * 7919),
                    "data": data,
                }
            }
        )

    def edited_user_message(self, chat_id: int, message_id: int, text: str) -> JSON:
        """Queue an ``edited_message`` update for a message made by ``user_message``."""
        message = self._messages[(chat_id, message_id)]
        message["text"] = text
        message["edit_date"] = int(self.clock())
        message.pop("entities", None)
        if found := find_entities(text):
            message["entities"] = found
        return self.push_update({"edited_message": copy.deepcopy(message)})

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed (polling) or acknowledged with a 2xx (webhook)."""
        return list(self._updates)

    # -- test controls: script, custom methods, inspection

    def script(self, method: str, *actions: Action | int) -> None:
        """Make the next calls of ``method`` (case-insensitive) fail/hang/drop, one per call.

        An int is shorthand for Telegram's usual error for that code (``Fail.of``).
        """
        queue = self._script.setdefault(method.lower(), deque())
        queue.extend(Fail.of(a) if isinstance(a, int) else a for a in actions)

    def register(self, method: str, handler: Handler) -> None:
        """Serve ``method`` with ``handler(params) -> result`` (sync or async; raise ApiError)."""
        self._handlers[method.lower()] = (method, handler)

    def calls(self, method: str) -> list[JSON]:
        """The params of every call of ``method`` (case-insensitive), in arrival order."""
        return [c.params for c in self.requests if c.method.lower() == method.lower()]

    def sent_to(self, chat_id: int | str) -> list[JSON]:
        """Messages the bot sent to ``chat_id``, in order, as sent."""
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        """The current state of a message (after edits), or None if unknown or deleted."""
        found = self._messages.get((chat_id, message_id))
        return copy.deepcopy(found) if found is not None else None

    def texts(self, chat_id: int) -> list[str]:
        """What the chat shows from the bot now: texts of its live messages, after edits."""
        mine = [
            m
            for (cid, _), m in self._messages.items()
            if cid == chat_id and m.get("from", {}).get("id") == self.bot_id
        ]
        return [m.get("text", "") for m in sorted(mine, key=lambda m: m["message_id"])]

    def reset(self) -> None:
        """Forget recorded calls, sends, deliveries and any unconsumed script."""
        for log in (
            self.requests,
            self.sent,
            self.edits,
            self.deleted,
            self.chat_actions,
            self.drafts,
            self.deliveries,
            self.dropped_updates,
        ):
            log.clear()
        self._script.clear()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked whenever the fake's state changes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (value := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            await self._wait_change(min(remaining, 0.05))
        return value

    async def wait_sent(
        self, count: int = 1, *, chat_id: int | str | None = None, timeout: float = 5.0
    ) -> list[JSON]:
        """Wait until the bot has sent ``count`` messages (to ``chat_id``); return them."""

        def ready() -> list[JSON] | None:
            got = self.sent if chat_id is None else self.sent_to(chat_id)
            return got if len(got) >= count else None

        result: list[JSON] = await self.wait_for(ready, timeout)
        return result

    async def wait_delivered(self, timeout: float = 5.0) -> None:
        """Wait until no update is pending (all confirmed, delivered or given up)."""
        await self.wait_for(lambda: not self._updates, timeout)

    # -- plumbing

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout: float | None) -> None:
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        token, method = request.match_info["token"], request.match_info["method"]
        params: JSON = {}
        bad_body: ApiError | None = None
        try:
            params = await _read_params(request)
        except ApiError as exc:
            bad_body = exc
        call = ApiCall(
            method, params, request.method, request.content_type, asyncio.get_running_loop().time()
        )
        self.requests.append(call)
        try:
            response = await self._answer(token, method, params, bad_body, request)
        finally:
            self._notify()
        if response is None:  # Drop
            if request.transport is not None:
                request.transport.close()
            return web.Response()
        call.status = response.status
        if isinstance(response, web.Response) and response.body is not None:
            try:
                call.response = orjson.loads(response.body)  # type: ignore[arg-type]
            except orjson.JSONDecodeError:
                call.response = response.body
        return response

    async def _answer(
        self, token: str, method: str, params: JSON, bad_body: ApiError | None, request: web.Request
    ) -> web.Response | None:
        if not TOKEN_FORMAT_RE.fullmatch(token):
            return _error(404, NOT_FOUND)
        if token != self.token:
            return _error(401, UNAUTHORIZED)
        entry = self._handlers.get(method.lower())
        if entry is None or (method.lower() == "sendmessagedraft" and not self.drafts_enabled):
            return _error(404, NOT_FOUND)
        queue = self._script.get(method.lower())
        action = queue.popleft() if queue else None
        if isinstance(action, Drop):
            return None
        if isinstance(action, Hang):
            await asyncio.sleep(action.seconds)
        elif isinstance(action, Fail):
            if action.body is not None:
                return web.Response(
                    status=action.error_code, body=action.body, content_type=action.content_type
                )
            description = action.description or _default_description(action.error_code)
            return _error(action.error_code, description, action.parameters)
        try:
            if bad_body is not None:
                raise bad_body
            result = await self._call(entry[1], params)
        except ApiError as exc:
            return _error(exc.error_code, exc.description, exc.parameters)
        if isinstance(result, _WithDescription):
            return _ok(result.result, result.description)
        return _ok(result)

    async def _call(self, handler: Handler, params: JSON) -> Any:
        result = handler(params)
        if inspect.isawaitable(result):
            result = await result
        return result

    # -- chats and messages

    def _remember_chat(
        self,
        chat_id: int,
        kind: str,
        *,
        user: JSON | None = None,
        title: str = "Team",
        forum: bool = False,
    ) -> JSON:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = {"id": chat_id, "type": kind}
            if kind == "private":
                user = user or {"first_name": "User"}
                chat["first_name"] = user.get("first_name", "User")
                if user.get("username"):
                    chat["username"] = user["username"]
            else:
                chat["title"] = title
            self._chats[chat_id] = chat
        if forum and chat["type"] == "supergroup":
            chat["is_forum"] = True
        return copy.deepcopy(chat)

    def _new_message_id(self, chat_id: int) -> int:
        next_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = next_id + 1
        return next_id

    def _reply_target(self, chat_id: int, reply_to: int | None, to_bot: bool) -> JSON | None:
        if reply_to is not None:
            target = self._messages.get((chat_id, reply_to))
            if target is None:
                raise ValueError(f"no message {reply_to} in chat {chat_id}")
        elif to_bot:
            mine = [
                m
                for (cid, _), m in self._messages.items()
                if cid == chat_id and m["from"]["id"] == self.bot_id
            ]
            if mine:
                target = max(mine, key=lambda m: m["message_id"])
            else:
                target = {
                    "message_id": self._new_message_id(chat_id),
                    "from": self.bot_user,
                    "chat": copy.deepcopy(self._chats[chat_id]),
                    "date": int(self.clock()),
                    "text": "…",
                }
                self._messages[(chat_id, target["message_id"])] = target
        else:
            return None
        reply = copy.deepcopy(target)
        reply.pop("reply_to_message", None)
        return reply

    def _resolve_chat(self, params: JSON) -> JSON:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, CHAT_ID_EMPTY)
        if isinstance(chat_id, str):
            for chat in self._chats.values():
                if chat_id.startswith("@") and chat.get("username") == chat_id[1:]:
                    return chat
            raise ApiError(400, CHAT_NOT_FOUND)
        if chat_id in self.migrated_chats:
            raise ApiError(400, MIGRATED, {"migrate_to_chat_id": self.migrated_chats[chat_id]})
        if chat_id in self.blocked_chats:
            raise ApiError(403, BLOCKED)
        if chat_id not in self._chats:
            if self.strict_chats:
                raise ApiError(400, CHAT_NOT_FOUND)
            self._remember_chat(chat_id, _kind_of(chat_id))
        return self._chats[chat_id]

    def _format(self, params: JSON) -> tuple[str, list[JSON]]:
        """Text and entities after parse_mode/entities, trim and length check."""
        text = params.get("text")
        if not isinstance(text, str) or text == "":
            raise ApiError(400, TEXT_EMPTY)
        mode = str(params.get("parse_mode") or "").lower()
        parsers = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}
        if mode:
            if mode not in parsers:
                raise ApiError(400, UNSUPPORTED_PARSE_MODE)
            try:
                text, parsed = parsers[mode](text)
            except EntityParseError as exc:
                raise ApiError(400, CANT_PARSE + str(exc)) from None
            entities = [_entity_json(e) for e in parsed]
        else:
            given = params.get("entities") or []
            if not isinstance(given, list) or not all(_is_entity(e) for e in given):
                raise ApiError(400, "Bad Request: can't parse entities JSON object")  # [?]
            entities = sorted((dict(e) for e in given), key=lambda e: (e["offset"], -e["length"]))
        text, entities = _trim(text, entities)
        length = utf16_len(text) if self.count_utf16 else len(text)
        if length > self.max_text_length:
            raise ApiError(400, TOO_LONG)
        return text, entities

    def _check_thread(self, chat: JSON, params: JSON) -> int | None:
        thread = params.get("message_thread_id")
        if thread is None or not chat.get("is_forum"):
            return None
        if thread not in self._topics.get(chat["id"], set()):
            raise ApiError(400, THREAD_NOT_FOUND)
        return int(thread)

    def _reply_for(self, chat: JSON, params: JSON) -> JSON | None:
        reply = params.get("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {
                "message_id": params["reply_to_message_id"],
                "allow_sending_without_reply": params.get("allow_sending_without_reply"),
            }
        if reply is None:
            return None
        if not isinstance(reply, dict) or "message_id" not in reply:
            raise ApiError(400, "Bad Request: can't parse reply parameters JSON object")  # [?]
        chat_id = _coerce("chat_id", reply.get("chat_id", chat["id"]))
        target = self._messages.get((chat_id, int(reply["message_id"])))
        if target is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise ApiError(400, REPLY_NOT_FOUND)
        found = copy.deepcopy(target)
        found.pop("reply_to_message", None)
        return found

    # -- methods

    def _get_me(self, params: JSON) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: JSON) -> list[JSON]:
        if self._webhook.url:
            raise ApiError(409, CONFLICT_WEBHOOK_ACTIVE)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params and params["allowed_updates"] is not None:
            self._allowed_updates = list(params["allowed_updates"])
        offset = params.get("offset")
        if offset is not None:
            offset = int(offset)
            if offset < 0:
                self._updates = self._updates[offset:]
            else:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
        me = object()
        self._poller = me  # a poll already waiting is terminated by this one
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                if self._closing:
                    return []
                if self._poller is not me:
                    raise ApiError(
                        409, CONFLICT_SET_WEBHOOK if self._webhook.url else CONFLICT_OTHER_POLL
                    )
                batch = self._deliverable(limit)
                remaining = deadline - loop.time()
                if batch or remaining <= 0:
                    return copy.deepcopy(batch)
                await self._wait_change(remaining)
        finally:
            if self._poller is me:
                self._poller = None

    def _deliverable(self, limit: int) -> list[JSON]:
        """The first ``limit`` queued updates of allowed types; others are discarded."""
        allowed = (
            DEFAULT_UPDATE_TYPES if not self._allowed_updates else frozenset(self._allowed_updates)
        )
        kept = [u for u in self._updates if _update_type(u) in allowed]
        if len(kept) != len(self._updates):
            self._updates = kept
        return kept[:limit]

    def _set_webhook(self, params: JSON) -> _WithDescription:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(400, WEBHOOK_NEEDS_HTTPS)
        if self.strict_webhook_url:
            if parts.scheme != "https":
                raise ApiError(400, WEBHOOK_NEEDS_HTTPS)
            if (parts.port or 443) not in WEBHOOK_PORTS:
                raise ApiError(400, WEBHOOK_BAD_PORT)
        secret = params.get("secret_token")
        if secret:
            secret = str(secret)
            if not SECRET_TOKEN_RE.fullmatch(secret):
                raise ApiError(400, SECRET_BAD_CHARS)
            if len(secret) > 256:
                raise ApiError(400, SECRET_TOO_LONG)
        max_connections = int(params.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise ApiError(400, BAD_MAX_CONNECTIONS)
        same = (
            url == self._webhook.url
            and (secret or None) == self._webhook.secret_token
            and max_connections == self._webhook.max_connections
        )
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if params.get("allowed_updates") is not None:
            self._allowed_updates = list(params["allowed_updates"])
        hook = self._webhook
        hook.url, hook.secret_token, hook.max_connections = url, secret or None, max_connections
        hook.ip_address = params.get("ip_address") or (
            "127.0.0.1" if parts.hostname in LOOPBACK_HOSTS else "149.154.167.220"
        )
        self._poller = None  # a waiting long poll ends with "terminated by setWebhook request"
        self._notify()
        return _WithDescription(True, "Webhook is already set" if same else "Webhook was set")

    def _delete_webhook(self, params: JSON) -> _WithDescription:
        had = bool(self._webhook.url)
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = _Webhook(
            last_error_date=self._webhook.last_error_date,
            last_error_message=self._webhook.last_error_message,
        )
        self._notify()
        return _WithDescription(
            True, "Webhook was deleted" if had else "Webhook is already deleted"
        )

    def _get_webhook_info(self, params: JSON) -> JSON:
        hook = self._webhook
        info: JSON = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if hook.url:
            info["max_connections"] = hook.max_connections
            info["ip_address"] = hook.ip_address
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
        return info

    @staticmethod
    def _check_markup(markup: Any) -> None:
        """Inline keyboards: rows of buttons, each with text and 1–64 bytes of callback data."""
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if not button.get("text") or (
                    data is not None and not 1 <= len(str(data).encode()) <= 64
                ):
                    raise ApiError(400, BUTTON_DATA_INVALID)

    def _answer_callback_query(self, params: JSON) -> bool:
        """Each query is answered once, within the window; the text shows as a toast."""
        query_id = str(params.get("callback_query_id") or "")
        pressed = self._open_queries.pop(query_id, None)
        if pressed is None or self.clock() - pressed > CALLBACK_ANSWER_WINDOW:
            raise ApiError(400, QUERY_INVALID)
        if len(str(params.get("text") or "")) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers.append(dict(params))
        return True

    def _send_message(self, params: JSON) -> JSON:
        chat = self._resolve_chat(params)
        text, entities = self._format(params)
        thread = self._check_thread(chat, params)
        reply = self._reply_for(chat, params)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        message: JSON = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": copy.deepcopy(chat),
            "date": int(self.clock()),
        }
        if thread is not None:
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        if reply is not None:
            message["reply_to_message"] = reply
        message["text"] = text
        if entities:
            message["entities"] = entities
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        self._messages[(chat["id"], message["message_id"])] = message
        self.sent.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _edit_message_text(self, params: JSON) -> JSON | bool:
        if params.get("inline_message_id"):
            text, entities = self._format(params)
            self.edits.append(
                {
                    "inline_message_id": params["inline_message_id"],
                    "text": text,
                    "entities": entities,
                }
            )
            return True
        chat = self._resolve_chat(params)
        message = self._messages.get((chat["id"], int(params.get("message_id") or 0)))
        if message is None:
            raise ApiError(400, EDIT_NOT_FOUND)
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, CANT_EDIT)
        text, entities = self._format(params)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        markup = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        if (
            text == message.get("text")
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise ApiError(400, NOT_MODIFIED)
        message["text"] = text
        message["edit_date"] = int(self.clock())
        for key, value in (("entities", entities), ("reply_markup", markup)):
            if value:
                message[key] = value
            else:
                message.pop(key, None)
        self.edits.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _edit_reply_markup(self, params: JSON) -> JSON:
        """Replaces a bot message's inline keyboard; without ``reply_markup`` removes it."""
        chat = self._resolve_chat(params)
        message = self._messages.get((chat["id"], int(params.get("message_id") or 0)))
        if message is None:
            raise ApiError(400, EDIT_NOT_FOUND)
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, CANT_EDIT)
        markup = params.get("reply_markup")
        self._check_markup(markup)
        markup = markup if isinstance(markup, dict) and markup.get("inline_keyboard") else None
        if markup == message.get("reply_markup"):
            raise ApiError(400, NOT_MODIFIED)
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = int(self.clock())
        self.edits.append(copy.deepcopy(message))
        return copy.deepcopy(message)

    def _send_chat_action(self, params: JSON) -> bool:
        chat = self._resolve_chat(params)
        action = params.get("action")
        if action not in CHAT_ACTIONS:
            raise ApiError(400, WRONG_ACTION)
        thread = params.get("message_thread_id")
        self.chat_actions.append(
            ChatAction(
                chat["id"],
                str(action),
                int(thread) if thread is not None else None,
                asyncio.get_running_loop().time(),
            )
        )
        return True

    def _delete_message(self, params: JSON) -> bool:
        chat = self._resolve_chat(params)
        key = (chat["id"], int(params.get("message_id") or 0))
        if self._messages.pop(key, None) is None:
            raise ApiError(400, DELETE_NOT_FOUND)
        self.deleted.append(key)
        return True

    def _send_message_draft(self, params: JSON) -> bool:
        chat = self._resolve_chat(params)
        if chat["type"] != "private":
            raise ApiError(400, "Bad Request: drafts can be sent only to private chats")  # [?]
        if not params.get("draft_id"):
            raise ApiError(400, "Bad Request: draft_id must be non-zero")  # [?]
        text, entities = self._format(params) if params.get("text") else ("", [])
        self.drafts.append(
            {
                "chat_id": chat["id"],
                "draft_id": int(params["draft_id"]),
                "text": text,
                "entities": entities,
                "at": asyncio.get_running_loop().time(),
            }
        )
        return True

    def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")  # [?]
        self.commands = [dict(c) for c in commands]
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        return copy.deepcopy(self.commands)

    def _delete_my_commands(self, params: JSON) -> bool:
        self.commands = []
        return True

    # -- webhook delivery

    async def _deliver_forever(self) -> None:
        """Push queued updates to the webhook one at a time, re-delivering until a 2xx."""
        while not self._closing:
            hook = self._webhook
            batch = self._deliverable(1) if hook.url else []
            if not batch:
                await self._wait_change(None)
                continue
            update = batch[0]
            update_id = update["update_id"]
            attempt = hook.attempts.get(update_id, 0) + 1
            hook.attempts[update_id] = attempt
            status, error = await self._post_update(hook, update)
            self.deliveries.append(
                Delivery(
                    update_id,
                    attempt,
                    hook.url,
                    hook.secret_token,
                    status,
                    error,
                    asyncio.get_running_loop().time(),
                )
            )
            if status is not None and 200 <= status < 300:
                self._forget(update_id)
            else:
                hook.last_error_date = int(self.clock())
                hook.last_error_message = error
                if attempt > len(self.webhook_retry_delays):
                    self.dropped_updates.append(update)
                    self._forget(update_id)
                else:
                    self._notify()
                    await asyncio.sleep(self.webhook_retry_delays[attempt - 1])
            self._notify()

    def _forget(self, update_id: int) -> None:
        self._updates = [u for u in self._updates if u["update_id"] != update_id]
        self._webhook.attempts.pop(update_id, None)

    async def _post_update(self, hook: _Webhook, update: JSON) -> tuple[int | None, str | None]:
        if urlsplit(hook.url).hostname not in LOOPBACK_HOSTS:
            return None, "Connection refused"  # the fake never leaves loopback
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        assert self._http is not None
        try:
            async with self._http.post(
                hook.url, data=orjson.dumps(update), headers=headers
            ) as response:
                body = await response.read()
                status = response.status
        except TimeoutError:
            return None, "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return None, "Connection refused"
        except aiohttp.ClientError as exc:
            return None, f"Connection error: {exc.__class__.__name__}"
        if not 200 <= status < 300:
            return status, f"Wrong response from the webhook: {status} {_phrase(status)}"
        await self._webhook_reply(body)
        return status, None

    async def _webhook_reply(self, body: bytes) -> None:
        """A 2xx body may carry one method call (``{"method": ...}``); Telegram runs it."""
        try:
            payload = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            return
        if not isinstance(payload, dict) or not isinstance(payload.get("method"), str):
            return
        params = {k: _safe_coerce(k, v) for k, v in payload.items() if k != "method"}
        method = payload["method"]
        call = ApiCall(
            method, params, "WEBHOOK-REPLY", "application/json", asyncio.get_running_loop().time()
        )
        self.requests.append(call)
        entry = self._handlers.get(method.lower())
        if entry is None:
            call.status = 404
            return
        try:
            call.response = await self._call(entry[1], params)
            call.status = 200
        except ApiError as exc:
            call.status, call.response = exc.error_code, exc.description


@dataclass(frozen=True, slots=True)
class _WithDescription:
    """A successful result that Telegram accompanies with a ``description`` (setWebhook)."""

    result: Any
    description: str


def _kind_of(chat_id: int) -> str:
    """Chat type from the id: supergroups are -100 followed by ten or more digits."""
    if chat_id > 0:
        return "private"
    return "supergroup" if chat_id <= -1_000_000_000_000 else "group"


def _is_entity(e: Any) -> bool:
    return (
        isinstance(e, dict)
        and isinstance(e.get("type"), str)
        and isinstance(e.get("offset"), int)
        and isinstance(e.get("length"), int)
    )


def _update_type(update: JSON) -> str:
    return next((k for k in update if k != "update_id"), "")


def _safe_coerce(name: str, value: Any) -> Any:
    try:
        return _coerce(name, value)
    except ApiError:
        return value


async def _read_params(request: web.Request) -> JSON:
    """Query string plus body (JSON, form or multipart), typed as the Bot API server reads them."""
    raw: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.body_exists:
        content_type = request.content_type
        if content_type == "application/json":
            body = await request.read()
            try:
                decoded = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError:
                raise ApiError(400, "Bad Request: can't parse JSON object") from None  # [?]
            if not isinstance(decoded, dict):
                raise ApiError(400, "Bad Request: can't parse JSON object")  # [?]
            raw.update(decoded)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                raw[key] = (
                    value if isinstance(value, str) else f"<file {getattr(value, 'filename', '?')}>"
                )
    params: JSON = {}
    for key, value in raw.items():
        params[key] = _coerce(key, value)
    return params


def _ok(result: Any, description: str | None = None) -> web.Response:
    body: JSON = {"ok": True, "result": result}
    if description is not None:
        body["description"] = description
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _error(code: int, description: str, parameters: JSON | None = None) -> web.Response:
    body: JSON = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.Response(status=code, body=orjson.dumps(body), content_type="application/json")


__all__ = [
    "ApiCall",
    "ApiError",
    "ChatAction",
    "Delivery",
    "Drop",
    "EntityParseError",
    "Fail",
    "FakeTelegram",
    "Hang",
    "find_entities",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]
