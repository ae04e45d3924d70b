"""Robot messages (PROTOCOLS §4.3) → `Inbound`: who asked, in which conversation, what.

The same JSON arrives as a Stream frame's `data` and as an HTTP-mode POST body. Groups
("2") reach the robot only when it is @-mentioned, and the mention is cut out of
`text.content`, leaving leading whitespace; `isInAtList: false` (not addressed) is dropped.
Private chats ("1") are always answered.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aibot.core.messages import Attachment, Inbound, ReplyTarget

CHANNEL = "dingtalk"
PRIVATE, GROUP = "1", "2"


@dataclass(frozen=True, slots=True)
class DingtalkReply:
    """DingTalk's part of a reply target: the conversation (for the robot API), the asker's
    staff id (one-to-one sends, group @-mentions), and the message's session webhook with its
    expiry (epoch ms), which needs no token while it is valid."""

    conversation_type: str  # PRIVATE or GROUP
    conversation_id: str
    staff_id: str | None = None
    session_webhook: str | None = None
    webhook_expires_ms: int = 0

    @property
    def group(self) -> bool:
        return self.conversation_type == GROUP

    def target(self) -> ReplyTarget:
        return ReplyTarget(
            self.conversation_id,
            "group" if self.group else "private",
            platform={
                "conversation_type": self.conversation_type,
                "conversation_id": self.conversation_id,
                "staff_id": self.staff_id,
                "session_webhook": self.session_webhook,
                "webhook_expires_ms": self.webhook_expires_ms,
            },
        )

    @classmethod
    def of(cls, target: ReplyTarget) -> DingtalkReply:
        data = target.platform
        kind, conversation = data.get("conversation_type"), data.get("conversation_id")
        staff, webhook = data.get("staff_id"), data.get("session_webhook")
        expires = data.get("webhook_expires_ms")
        return cls(
            str(kind),
            str(conversation if conversation is not None else target.chat_id),
            staff if isinstance(staff, str) else None,
            webhook if isinstance(webhook, str) else None,
            expires if isinstance(expires, int) else 0,
        )


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


def attachments_of(data: dict[str, Any]) -> tuple[Attachment, ...]:
    """Pictures (also inside rich text), voice and files, by `downloadCode`; a voice note
    carries DingTalk's own `recognition`, used as its transcript. (DingTalk delivers voice and
    files only in one-to-one chats.) Video is not read."""
    kind, content = data.get("msgtype"), data.get("content")
    content = content if isinstance(content, dict) else {}
    code = content.get("downloadCode")
    if kind == "picture" and isinstance(code, str):
        return (Attachment("image", {"download_code": code}),)
    if kind == "richText":
        items = content.get("richText")
        return tuple(
            Attachment("image", {"download_code": item["downloadCode"]})
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict)
            and item.get("type") == "picture"
            and isinstance(item.get("downloadCode"), str)
        )
    if kind == "audio" and isinstance(code, str):
        heard = content.get("recognition")
        text = heard.strip() if isinstance(heard, str) and heard.strip() else None
        return (Attachment("audio", {"download_code": code}, name="voice", text=text),)
    if kind == "file" and isinstance(code, str):
        name = content.get("fileName")
        return (
            Attachment(
                "file", {"download_code": code}, name=name if isinstance(name, str) else None
            ),
        )
    return ()


def _field(data: dict[str, Any], outer: str, inner: str) -> object:
    """`data[outer][inner]`, or None when `outer` is not an object (a correctly signed request
    with `"text": true` used to raise here: a 503 and a traceback, re-sent forever)."""
    container = data.get(outer)
    return container.get(inner) if isinstance(container, dict) else None


def read_message(data: dict[str, Any], *, clock: Callable[[], float] = time.time) -> Inbound | None:
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
    attachments = attachments_of(data)
    if not text and not attachments:
        return None
    staff = data.get("senderStaffId")
    user = str(staff or data.get("senderId") or conversation)
    expires, webhook = data.get("sessionWebhookExpiredTime"), data.get("sessionWebhook")
    return Inbound(
        channel=CHANNEL,
        session_key=f"{CHANNEL}:{conversation}",
        user_id=user,
        text=text,
        request_id=uuid.uuid4().hex,
        received_at=clock(),
        message_id=msg_id,
        principal=f"{CHANNEL}:{user}",
        attachments=attachments,
        target=DingtalkReply(
            kind,
            conversation,
            staff if isinstance(staff, str) else None,
            webhook if isinstance(webhook, str) else None,
            int(expires)
            if isinstance(expires, int | str) and str(expires).isascii() and str(expires).isdigit()
            else 0,
        ).target(),
    )
