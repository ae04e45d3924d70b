"""Which decrypted WeCom callbacks become messages for the assistant, and with what identity.

Text, image and voice messages go to the inbox, keyed on the app and `MsgId` so WeCom's
re-deliveries are dropped there (durably, across restarts); a picture or voice note is stored as
its `MediaId` (downloaded when handled, `media.py`), a voice note's `Recognition` (when WeCom
sends one) is used as its transcript. Video, locations and links get a fixed notice
(`Notice`). A user opening the app (`enter_agent`) and address-book changes (`change_contact`)
become platform events (greeting, audit); a press on a template card's button
(`template_card_event`) is a `CardPress` (`approval.py`); other events are only acknowledged.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from aibot.channels.wecom.verify import child_text
from aibot.core.events import PlatformEvent
from aibot.core.messages import Attachment, Inbound, ReplyTarget

CHANNEL = "wecom"


@dataclass(frozen=True, slots=True)
class WecomReply:
    """WeCom's part of a reply target: the member `message/send` addresses (an app chat is
    always one member's, so the member is also the chat)."""

    touser: str

    def target(self) -> ReplyTarget:
        return ReplyTarget(self.touser, platform={"touser": self.touser})

    @classmethod
    def of(cls, target: ReplyTarget) -> WecomReply:
        touser = target.platform.get("touser")
        if not isinstance(touser, str):
            raise ValueError("a WeCom reply target needs a touser")
        return cls(touser)


@dataclass(frozen=True, slots=True)
class Notice:
    """A message the assistant cannot read; `key` dedupes WeCom's re-deliveries of it."""

    user: str
    key: str


@dataclass(frozen=True, slots=True)
class CardPress:
    """A member pressed a template card's button: its `EventKey`, the card's `TaskId`, and
    the one-time `ResponseCode` that may update the card."""

    user: str
    key: str
    task_id: str
    response_code: str


def dedupe_key(message: Element) -> str:
    """WeCom's rule: `MsgId` for messages, `FromUserName` + `CreateTime` for events."""
    msg_id = child_text(message, "MsgId")
    if msg_id:
        return msg_id
    return f"{child_text(message, 'FromUserName')}:{child_text(message, 'CreateTime')}"


def read_event(message: Element, agent_id: int) -> PlatformEvent | CardPress | None:
    user = (child_text(message, "FromUserName") or "").strip()
    event = (child_text(message, "Event") or "").strip()
    if user and event == "template_card_event":
        return CardPress(
            user,
            child_text(message, "EventKey") or "",
            child_text(message, "TaskId") or "",
            (child_text(message, "ResponseCode") or "").strip(),
        )
    if not user or event not in ("enter_agent", "change_contact"):
        return None
    if event == "enter_agent":  # once per user: WeCom sends it every time the app is opened
        return PlatformEvent(
            CHANNEL,
            "user_entered",
            f"enter_agent:{agent_id}:{user}",
            f"{CHANNEL}:{agent_id}:{user}",
            WecomReply(user).target(),
            (user,),
        )
    change = (child_text(message, "ChangeType") or "").strip()
    who = (child_text(message, "UserID") or "").strip()
    return PlatformEvent(
        CHANNEL,
        "contact_changed",
        f"{agent_id}:{dedupe_key(message)}",
        f"{CHANNEL}:{agent_id}",
        ReplyTarget(),
        tuple(x for x in (change, who) if x),
    )


def read_message(
    message: Element, agent_id: int, *, clock: Callable[[], float] = time.time
) -> Inbound | Notice | PlatformEvent | CardPress | None:
    """None for what is not ours to answer, including another app's messages: apps may share
    a callback URL, Token and key, and we can only answer as `agent_id`."""
    user = (child_text(message, "FromUserName") or "").strip()
    kind = child_text(message, "MsgType")
    if (child_text(message, "AgentID") or str(agent_id)).strip() != str(agent_id):
        return None
    if kind == "event":
        return read_event(message, agent_id)
    if not user or kind is None:
        return None
    key = f"{agent_id}:{dedupe_key(message)}"
    attachments = attachments_of(message, kind)
    if kind != "text" and not attachments:
        return Notice(user, key)
    text = (child_text(message, "Content") or "").strip()
    if not text and not attachments:
        return None
    return Inbound(
        channel=CHANNEL,
        session_key=f"{CHANNEL}:{agent_id}:{user}",
        user_id=user,
        text=text,
        request_id=uuid.uuid4().hex,
        received_at=clock(),
        message_id=key,
        principal=f"{CHANNEL}:{user}",
        target=WecomReply(user).target(),
        attachments=attachments,
    )


def attachments_of(message: Element, kind: str) -> tuple[Attachment, ...]:
    """An image's or a voice note's `MediaId` (never its `PicUrl`: a URL is not fetched)."""
    media_id = (child_text(message, "MediaId") or "").strip()
    if not media_id or kind not in ("image", "voice"):
        return ()
    if kind == "image":
        return (Attachment("image", {"media_id": media_id}),)
    heard = (child_text(message, "Recognition") or "").strip() or None
    codec = (child_text(message, "Format") or "amr").strip().lower()
    return (Attachment("audio", {"media_id": media_id}, f"audio/{codec}", text=heard),)
