"""Robot messages (PROTOCOLS §4.3) → `Inbound`, and answers → the bodies DingTalk accepts.

The same JSON arrives as a Stream frame's `data` and as an HTTP-mode POST body. Groups
("2") reach the robot only when it is @-mentioned, and the mention is cut out of
`text.content`, leaving leading whitespace; `isInAtList: false` (not addressed) is dropped.
Private chats ("1") are always answered.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from aibot.core.messages import Inbound

CHANNEL = "dingtalk"
PRIVATE, GROUP = "1", "2"
# DingTalk documents no exact limit for one robot message; 4000 characters stays well under
# the robot APIs' msgParam size limit even in CJK (3 UTF-8 bytes each).
PART_LIMIT = 4000
TITLE_LIMIT = 30


def message_text(data: dict[str, Any]) -> str | None:
    """The words of a text or rich-text message; None for pictures, voice, files…"""
    kind = data.get("msgtype")
    if kind == "text":
        content = _field(data, "text", "content")
        return content if isinstance(content, str) else None
    if kind == "richText":
        items = _field(data, "content", "richText")
        words = (
            [
                item["text"]
                for item in items
                if isinstance(item, dict) and isinstance(item.get("text"), str)
            ]
            if isinstance(items, list)
            else []
        )
        return "".join(words) if words else None
    return None


def _field(data: dict[str, Any], outer: str, inner: str) -> object:
    """`data[outer][inner]`, or None when `outer` is not an object (a correctly signed request
    with `"text": true` used to raise here: a 503 and a traceback, re-sent forever)."""
    container = data.get(outer)
    return container.get(inner) if isinstance(container, dict) else None


def read_message(data: dict[str, Any]) -> Inbound | None:
    """The message for the assistant, or None when it is not one (or not addressed to us)."""
    msg_id, conversation = data.get("msgId"), data.get("conversationId")
    kind = data.get("conversationType")
    if not (
        isinstance(msg_id, str)
        and msg_id
        and isinstance(conversation, str)
        and kind in (PRIVATE, GROUP)
    ):
        return None
    if kind == GROUP and data.get("isInAtList") is False:
        return None
    text = (message_text(data) or "").strip()
    if not text:
        return None
    staff = data.get("senderStaffId")
    user = str(staff or data.get("senderId") or conversation)
    expires = data.get("sessionWebhookExpiredTime")
    return Inbound(
        channel=CHANNEL,
        session_key=f"{CHANNEL}:{conversation}",
        user_id=user,
        text=text,
        request_id=uuid.uuid4().hex,
        received_at=time.time(),
        message_id=msg_id,
        principal=f"{CHANNEL}:{user}",
        target={
            "chat_id": conversation,
            "chat_type": "group" if kind == GROUP else "private",
            "conversation_type": kind,
            "conversation_id": conversation,
            "staff_id": staff if isinstance(staff, str) else None,
            "session_webhook": data.get("sessionWebhook"),
            "webhook_expires_ms": int(expires)
            if isinstance(expires, int | str) and str(expires).isascii() and str(expires).isdigit()
            else 0,
        },
    )


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
