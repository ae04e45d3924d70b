"""The model's Markdown as Feishu message content, split under Feishu's request-size limits.

Feishu renders Markdown itself inside a post's `md` element and a card's `markdown` element, so
the answer is passed through (headings, which post `md` does not render, become bold lines).
Limits apply to the whole request body: 30 KB for post and card, 150 KB for text. One split,
sized for the 30 KB formats, is used for every format, so falling back to text sends the very
same parts (same idempotency keys, never a part twice).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from aibot.core.feedback import button_data

BODY_LIMIT = 30 * 1024
_WRAPPER = 1024  # msg_type, uuid, reply_in_thread and the format's JSON around the text
_WORST_CHAR = 8  # bytes one character can cost once double JSON-encoded (e.g. \\u0001)
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")

MSG_TYPES = {"post": "post", "card": "interactive", "text": "text"}


def content(kind: str, markdown: str, rate: str | None = None) -> str:
    """The `content` string (JSON inside JSON) for `kind` post, card or text. A card for the
    answer `rate` (a request id) carries 👍/👎 buttons; posts and text cannot hold buttons."""
    body: dict[str, Any]
    if kind == "post":
        body = {"zh_cn": {"content": [[{"tag": "md", "text": _bold_headings(markdown)}]]}}
    elif kind == "card":
        body = card(markdown, rate)
    else:
        body = {"text": markdown}
    return orjson.dumps(body).decode()


def card(markdown: str, rate: str | None = None) -> dict[str, Any]:
    """A JSON 2.0 card with one markdown element; shared (update_multi) so it can be patched."""
    elements: list[dict[str, Any]] = [{"tag": "markdown", "content": markdown}]
    if rate:
        elements.append(
            {
                "tag": "column_set",
                "columns": [
                    {
                        "tag": "column",
                        "width": "auto",
                        "elements": [
                            {
                                "tag": "button",
                                "text": {"tag": "plain_text", "content": label},
                                "type": "default",
                                "size": "small",
                                "behaviors": [
                                    {
                                        "type": "callback",
                                        "value": {"rate": button_data(score, rate)},
                                    }
                                ],
                            }
                        ],
                    }
                    for score, label in ((1, "👍"), (-1, "👎"))
                ],
            }
        )
    return {"schema": "2.0", "config": {"update_multi": True}, "body": {"elements": elements}}


def _bold_headings(markdown: str) -> str:
    lines, fenced = [], False
    for line in markdown.split("\n"):
        if _FENCE.match(line):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        lines.append(f"**{heading.group(1)}**" if heading else line)
    return "\n".join(lines)


def encoded_size(text: str) -> int:
    """Bytes `text` takes inside a request body, where it is JSON-encoded twice."""
    return len(orjson.dumps(orjson.dumps(text).decode())) - 6


def split(markdown: str, limit: int = BODY_LIMIT) -> list[str]:
    """Parts whose request bodies stay under `limit`, cut at paragraph, then line, then
    character boundaries; a code block cut in two is closed and reopened."""
    budget = limit - _WRAPPER - encoded_size("\n~~~~~~")  # room to close a fence
    step = budget // _WORST_CHAR
    lines: list[str] = []
    for line in markdown.strip().split("\n"):
        lines += [line[i : i + step] for i in range(0, len(line), step)] or [""]
    parts: list[str] = []
    current: list[str] = []
    size, opener = 0, ""
    for line in lines:
        cost = encoded_size(line + "\n")
        if current and size + cost > budget:
            head = current[: _paragraph_cut(current)]
            still_open = _fence_after(opener, head)
            closer = [_fence_mark(still_open)] if still_open else []
            parts.append("\n".join(head + closer).strip("\n"))
            current = ([still_open] if still_open else []) + current[len(head) :]
            opener = still_open
            size = sum(encoded_size(piece + "\n") for piece in current)
        current.append(line)
        size += cost
    tail = "\n".join(current).strip("\n")
    return [*parts, tail] if tail.strip() else parts


def _fence_mark(line: str) -> str:
    """The backticks or tildes that close the fence `line` opened."""
    match = _FENCE.match(line)
    return match.group(1) if match else "```"


def _paragraph_cut(lines: list[str]) -> int:
    """Cuts after the last blank line in the second half of `lines`, else after all of them."""
    for index in range(len(lines) - 1, len(lines) // 2, -1):
        if not lines[index].strip():
            return index + 1
    return len(lines)


def _fence_after(opener: str, lines: list[str]) -> str:
    """The fence line still open after `lines` ('' if none); `lines[0]` re-opens `opener`."""
    open_fence = opener
    for line in lines[1:] if opener else lines:
        if _FENCE.match(line):
            open_fence = "" if open_fence else line.strip()
    return open_fence
