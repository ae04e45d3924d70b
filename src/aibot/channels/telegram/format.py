"""Model Markdown → Telegram HTML, and splitting long answers into sendable messages.

Why HTML and not MarkdownV2: MarkdownV2 needs almost every punctuation mark escaped, and one
miss makes Telegram reject the whole message ("can't parse entities"). HTML needs only ``&``,
``<`` and ``>`` escaped, so it is the robust choice for free-form model output (PROTOCOLS §2.4).

Why markdown-it-py: models write CommonMark-ish Markdown with tables and ``~~strike~~``;
a real parser gets nesting, code spans and edge cases right where regexes do not. We walk its
token stream and emit only the tags Telegram supports, so the output is always well-formed.

Why a tag-aware splitter: Telegram limits a message to 4096 characters *after entity parsing*,
counted in UTF-16 code units. Cutting a rendered answer blindly could leave a ``<pre>`` open
(rejected) or lose the formatting of the rest of a code block, so the splitter closes the tags
open at a cut and re-opens them at the start of the next chunk.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html import unescape

from markdown_it import MarkdownIt
from markdown_it.token import Token

from aibot.channels.text import text_ranges

__all__ = ["TELEGRAM_TEXT_LIMIT", "render_html", "split_message"]

TELEGRAM_TEXT_LIMIT = 4096
"""``sendMessage``'s text limit, in UTF-16 code units of the text after entity parsing."""

_SAFE_SCHEMES = frozenset({"http", "https", "tg", "mailto"})
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_HR = "———"

_md = MarkdownIt("commonmark", {"html": False}).enable("strikethrough").enable("table")


# --------------------------------------------------------------------------- rendering


def _esc(text: str, *, attr: bool = False) -> str:
    """Escape for Telegram's HTML: only ``& < >`` in text (plus ``"`` inside attributes)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if attr else text


def _safe_href(href: str | None) -> str | None:
    """The href if its scheme is one we let through, else None (the link becomes plain text).

    Relative links mean nothing in a chat and ``javascript:``/``data:``-style schemes must never
    become clickable, so only an explicit allow-list of absolute schemes survives.
    """
    if not href:
        return None
    match = _SCHEME_RE.match(href.strip())
    if match is None or match.group(1).lower() not in _SAFE_SCHEMES:
        return None
    return href.strip()


def _attr(token: Token, name: str) -> str | None:
    value = token.attrGet(name)
    return None if value is None else str(value)


def _render_inline(children: list[Token] | None) -> str:
    """Inline tokens → Telegram HTML. markdown-it emits balanced open/close pairs, so do we."""
    out: list[str] = []
    links: list[bool] = []  # per open link: did we emit an <a>?
    simple = {"strong": "b", "em": "i", "s": "s"}
    for tok in children or []:
        kind = tok.type
        base, _, side = kind.rpartition("_")
        if base in simple and side in ("open", "close"):
            tag = simple[base]
            out.append(f"<{tag}>" if side == "open" else f"</{tag}>")
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "code_inline":
            out.append(f"<code>{_esc(tok.content)}</code>")
        elif kind == "link_open":
            href = _safe_href(_attr(tok, "href"))
            links.append(href is not None)
            if href is not None:
                out.append(f'<a href="{_esc(href, attr=True)}">')
        elif kind == "link_close":
            if links and links.pop():
                out.append("</a>")
        elif kind == "image":
            alt = _esc(tok.content)
            src = _safe_href(_attr(tok, "src"))
            out.append(f"{alt} ({_esc(src)})" if src and alt else _esc(src) if src else alt)
        else:  # text, html_inline (html is off, but be safe) and anything unknown
            out.append(_esc(tok.content))
    return "".join(out)


def _plain_inline(children: list[Token] | None) -> str:
    """Inline tokens → unformatted text, for table cells (which go inside ``<pre>``)."""
    parts: list[str] = []
    for tok in children or []:
        if tok.type in ("text", "code_inline", "image", "html_inline"):
            parts.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _width(text: str) -> int:
    """Monospace display width: CJK wide/fullwidth characters take two cells."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _render_table(rows: list[list[str]], header_rows: int) -> str:
    """A table as padded plain text in ``<pre>``: Telegram has no table markup."""
    cols = max((len(r) for r in rows), default=0)
    rows = [r + [""] * (cols - len(r)) for r in rows]
    widths = [max((_width(r[c]) for r in rows), default=0) for c in range(cols)]
    lines: list[str] = []
    for n, row in enumerate(rows):
        cells = [cell + " " * (widths[c] - _width(cell)) for c, cell in enumerate(row)]
        lines.append(" | ".join(cells).rstrip())
        if n == header_rows - 1:
            lines.append("-+-".join("-" * w for w in widths))
    return "<pre>" + _esc("\n".join(lines)) + "</pre>"


def _table(tokens: list[Token], i: int) -> tuple[str, int]:
    rows: list[list[str]] = []
    header_rows = 0
    in_head = False
    while i < len(tokens) and tokens[i].type != "table_close":
        kind = tokens[i].type
        if kind == "thead_open":
            in_head = True
        elif kind == "thead_close":
            in_head = False
        elif kind == "tr_open":
            rows.append([])
            header_rows += in_head
        elif kind == "inline" and rows:
            rows[-1].append(_plain_inline(tokens[i].children).strip())
        i += 1
    return _render_table(rows, header_rows), i + 1


def _indent(body: str, marker: str) -> str:
    pad = " " * len(marker)
    return marker + body.replace("\n", "\n" + pad)


def _list(tokens: list[Token], i: int, in_quote: bool) -> tuple[str, int]:
    """A bullet or numbered list opening at ``i``, as "• " or "1. " lines; (text, index after)."""
    ordered = tokens[i].type == "ordered_list_open"
    number = int(_attr(tokens[i], "start") or 1)
    end = "ordered_list_close" if ordered else "bullet_list_close"
    items: list[str] = []
    i += 1
    while i < len(tokens) and tokens[i].type != end:
        if tokens[i].type == "list_item_open":
            inner, i = _blocks(tokens, i + 1, "list_item_close", in_quote)
            marker = f"{number}. " if ordered else "• "
            number += 1
            items.append(_indent("\n".join(b for b in inner if b), marker))
        else:
            i += 1
    return "\n".join(items), i + 1


def _blocks(
    tokens: list[Token], i: int, close: str | None, in_quote: bool
) -> tuple[list[str], int]:
    """Render block tokens from ``i`` up to the ``close`` token; return (blocks, index after)."""
    blocks: list[str] = []
    while i < len(tokens):
        tok = tokens[i]
        kind = tok.type
        if close is not None and kind == close:
            return blocks, i + 1
        if kind == "paragraph_open":
            blocks.append(_render_inline(tokens[i + 1].children))
            i += 3
        elif kind == "heading_open":
            blocks.append(f"<b>{_render_inline(tokens[i + 1].children)}</b>")
            i += 3
        elif kind in ("fence", "code_block"):
            lang = tok.info.strip().split()[0] if tok.info.strip() else ""
            cls = f' class="language-{_esc(lang, attr=True)}"' if lang else ""
            code = _esc(tok.content.rstrip("\n"))
            blocks.append(f"<pre><code{cls}>{code}</code></pre>")
            i += 1
        elif kind == "hr":
            blocks.append(_HR)
            i += 1
        elif kind == "blockquote_open":
            inner, i = _blocks(tokens, i + 1, "blockquote_close", True)
            body = "\n\n".join(b for b in inner if b)
            # Telegram does not nest blockquotes: only the outermost one gets the tag.
            blocks.append(body if in_quote else f"<blockquote>{body}</blockquote>")
        elif kind in ("bullet_list_open", "ordered_list_open"):
            listed, i = _list(tokens, i, in_quote)
            blocks.append(listed)
        elif kind == "table_open":
            table, i = _table(tokens, i + 1)
            blocks.append(table)
        elif kind in ("html_block", "inline"):
            blocks.append(
                _esc(tok.content) if kind == "html_block" else _render_inline(tok.children)
            )
            i += 1
        else:
            i += 1
    return blocks, i


def render_html(markdown: str) -> str:
    """Convert a model's Markdown answer to Telegram's HTML subset (``parse_mode="HTML"``).

    Only tags Telegram accepts are emitted (b, i, s, code, pre, a, blockquote), always balanced;
    every piece of text — including raw HTML the model wrote, such as ``<script>`` — is escaped,
    so the result can never fail with "can't parse entities". Structures Telegram lacks are
    approximated: headings become bold lines, lists become "• "/"1. " lines, tables become
    padded text in ``<pre>``, images become their alt text plus the URL.
    """
    tokens = _md.parse(markdown)
    blocks, _ = _blocks(tokens, 0, None, False)
    return "\n\n".join(b for b in blocks if b)


# --------------------------------------------------------------------------- splitting

# By preference: (minimum share of the window the chunk must fill, separators), each separator
# with how many of its characters stay with the chunk before the cut. A paragraph boundary is
# worth a shorter message than a word boundary, hence the falling minimums.
_HTML_TOKEN = re.compile(
    r"(?P<tag><[^>]*>)"
    r"|(?P<ent>&(?:lt|gt|amp|quot|#[0-9]+|#[xX][0-9a-fA-F]+);)"
    r"|(?P<text>[^<&]+|&)"
)
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")


@dataclass(slots=True)
class _Event:
    kind: str  # "open", "close" or "char"
    raw: str  # exactly as it appears in the input
    name: str = ""  # tag name, lower case, for open/close


def _events(html: str) -> tuple[list[_Event], str, list[int], list[bool]]:
    """Tokenize our own HTML: events, the visible text, each visible char's event index, and
    whether each visible char is inside ``<pre>``.

    Entities decode to one visible character (Telegram counts decoded text), while their raw
    form is kept so chunks reproduce the input byte for byte.
    """
    events: list[_Event] = []
    visible: list[str] = []
    where: list[int] = []
    in_pre: list[bool] = []
    pre_depth = 0
    for m in _HTML_TOKEN.finditer(html):
        if m.group("tag") is not None:
            raw = m.group("tag")
            name_match = _TAG_NAME.match(raw)
            name = name_match.group(1).lower() if name_match else ""
            kind = "close" if raw.startswith("</") else "open"
            events.append(_Event(kind, raw, name))
            if name == "pre":
                pre_depth = max(0, pre_depth + (1 if kind == "open" else -1))
        elif m.group("ent") is not None:
            raw = m.group("ent")
            ch = unescape(raw)
            if len(ch) != 1:  # e.g. &#0; — keep it literal, counted raw (conservative)
                for c in raw:
                    where.append(len(events))
                    visible.append(c)
                    in_pre.append(pre_depth > 0)
                    events.append(_Event("char", _esc(c)))
                continue
            where.append(len(events))
            visible.append(ch)
            in_pre.append(pre_depth > 0)
            events.append(_Event("char", raw))
        else:
            for c in m.group("text"):
                where.append(len(events))
                visible.append(c)
                in_pre.append(pre_depth > 0)
                events.append(_Event("char", c))
    return events, "".join(visible), where, in_pre


def _apply(stack: list[_Event], ev: _Event) -> None:
    if ev.kind == "open":
        stack.append(ev)
    elif ev.kind == "close":
        for k in range(len(stack) - 1, -1, -1):
            if stack[k].name == ev.name:
                del stack[k:]
                break


def split_message(html: str, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Split Telegram HTML (from :func:`render_html`) into chunks Telegram will accept.

    Each chunk has at most ``limit`` UTF-16 units of *visible* text — what Telegram counts after
    parsing: tags count 0, ``&amp;`` counts 1. Cuts follow ``channels.text.split_plain``'s
    preferences (paragraph, line, sentence, word, hard). Tags open at a cut are closed at the
    end of the chunk and re-opened, attributes included, at the start of the next one, so a long
    ``<pre><code class="language-python">`` block stays a Python code block in every message.
    Whitespace at cuts is dropped, except a code line's indentation inside ``<pre>``; chunks
    with no visible non-space text are never returned (Telegram rejects them as empty).

    The input is expected to be well-formed (as :func:`render_html` guarantees); a stray close
    tag is passed through unchanged.
    """
    events, visible, where, in_pre = _events(html)
    chunks: list[str] = []
    stack: list[_Event] = []
    ev = 0
    for a, b in text_ranges(visible, limit, in_pre.__getitem__):
        first, last = where[a], where[b - 1]
        while ev < first:  # tags (and trimmed whitespace) between chunks: track, don't emit
            _apply(stack, events[ev])
            ev += 1
        out = [e.raw for e in stack]
        while ev <= last:
            _apply(stack, events[ev])
            out.append(events[ev].raw)
            ev += 1
        out.extend(f"</{e.name}>" for e in reversed(stack))
        chunks.append("".join(out))
    return chunks
