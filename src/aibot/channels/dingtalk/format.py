"""Answers as DingTalk robot messages: split into parts, as text or markdown.

A markdown message needs a title (what notifications and the chat list show); in groups a text
answer sent through the session webhook @-mentions who asked. The robot send APIs take the
message as `msgKey` plus `msgParam`, itself a JSON string.
"""

from __future__ import annotations

from typing import Any

import orjson

from aibot.channels.text import split_plain

# DingTalk documents no exact limit for one robot message; 4000 characters stays well under
# the robot APIs' msgParam size limit even in CJK (3 UTF-8 bytes each).
PART_LIMIT = 4000
TITLE_LIMIT = 30


def split(text: str) -> list[str]:
    """The answer's parts, each under `PART_LIMIT`."""
    return split_plain(text, PART_LIMIT)


def title_of(text: str) -> str:
    """A markdown message's title is what notifications and the chat list show."""
    for line in text.splitlines():
        words = line.strip().lstrip("#>*-+ ").replace("**", "").replace("`", "").strip()
        if words:
            return words[:TITLE_LIMIT]
    return "…"


def webhook_body(text: str, reply_format: str, *, mention: str | None) -> dict[str, Any]:
    """A session-webhook message; in groups a text answer @-mentions who asked."""
    if reply_format == "markdown":
        return {"msgtype": "markdown", "markdown": {"title": title_of(text), "text": text}}
    body: dict[str, Any] = {"msgtype": "text", "text": {"content": text}}
    if mention:
        body["at"] = {"atUserIds": [mention]}
    return body


def robot_message(text: str, reply_format: str) -> dict[str, str]:
    """`msgKey` and `msgParam` (a JSON *string*) of the robot send APIs."""
    if reply_format == "markdown":
        return {
            "msgKey": "sampleMarkdown",
            "msgParam": orjson.dumps({"title": title_of(text), "text": text}).decode(),
        }
    return {"msgKey": "sampleText", "msgParam": orjson.dumps({"content": text}).decode()}
