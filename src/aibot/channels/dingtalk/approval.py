"""Approve/deny buttons under a tool-approval question, in one-to-one chats.

A robot's ActionCard buttons can only open a link; DingTalk's `dtmd://dingtalkclient/
sendMessage?content=…` link makes the client send `content` as the user's own message in that
chat. So the question (`core/approvals.py`) goes out as an ActionCard whose buttons type
`/approve` and `/deny` for the user: the answer then arrives as the typed command would, from
the user who pressed, and is settled (or refused) exactly like it. This needs no card template,
no card callback and works in Stream and HTTP mode alike. In groups a robot only receives
messages that @-mention it, which such a button cannot write, so there the question stays text
and asks for a typed `@bot /approve`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from aibot.channels.dingtalk.format import title_of
from aibot.core.approvals import APPROVE, DENY
from aibot.i18n import pick, translate

SEND_AS_USER = "dtmd://dingtalkclient/sendMessage?content="


def buttons(locale: str | None) -> list[tuple[str, str]]:
    """(label, link) of the two buttons, labelled in the chat's language."""
    language = pick(locale)
    return [
        (translate(language, APPROVE), SEND_AS_USER + quote("/approve", safe="")),
        (translate(language, DENY), SEND_AS_USER + quote("/deny", safe="")),
    ]


def webhook_card(text: str, locale: str | None) -> dict[str, Any]:
    """The question as a session-webhook ActionCard (buttons side by side)."""
    return {
        "msgtype": "actionCard",
        "actionCard": {
            "title": title_of(text),
            "text": text,
            "btnOrientation": "1",
            "btns": [{"title": label, "actionURL": link} for label, link in buttons(locale)],
        },
    }


def robot_card(text: str, locale: str | None) -> dict[str, str]:
    """The question as the robot API's two-button ActionCard (`sampleActionCard2`)."""
    (approve, approve_link), (deny, deny_link) = buttons(locale)
    param = {
        "title": title_of(text),
        "text": text,
        "actionTitle1": approve,
        "actionURL1": approve_link,
        "actionTitle2": deny,
        "actionURL2": deny_link,
    }
    return {"msgKey": "sampleActionCard2", "msgParam": orjson.dumps(param).decode()}
