"""TDLib's ``parse_markdown_v2`` and legacy ``parse_markdown``, ported (MarkdownV2, Markdown)."""

from __future__ import annotations

from typing import Any

from tests.fakes.telegram_api.entities import (
    _EMOJI_LINK_RE,
    _MDV2_RESERVED,
    _SPACE,
    _TD_NAME,
    EntityParseError,
    _Ent,
    _first_unit,
    _link_entity,
    _sorted,
    _u16,
)


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
