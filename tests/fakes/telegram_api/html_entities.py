"""TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp), ported: parse_mode=HTML."""

from __future__ import annotations

from tests.fakes.telegram_api.entities import (
    _ALNUM,
    _DIGITS,
    _HEX,
    _SPACE,
    EntityParseError,
    _Ent,
    _first_unit,
    _link_entity,
    _sorted,
    _u16,
)


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
