"""Approve/deny buttons on a tool-approval question, and what a press of one does.

The question (`core/approvals.py`) goes out as an interactive card (JSON 2.0): its text and two
buttons whose callback `value` carries the question's token. Feishu POSTs a press to the event
URL as `card.action.trigger` (verified like every event) and shows what the answer holds
within 3 s: a toast in the presser's language (`i18n`) and, once the press decided, the card
redrawn with the decision in place of the buttons, so it cannot be pressed again. Only the user
who was asked can decide (the press's `operator.open_id`); anyone else's press, a second one,
or one on a question that no longer waits changes nothing and says so.

In long-connection mode the press comes over the connection when the app's callbacks are set
to it (开发者后台 → 事件与回调 → 回调配置), and is answered the same way (`connection.py`).
The question's text asks for a typed `/approve` too, which works whatever the setup.
"""

from __future__ import annotations

from typing import Any

from aibot.channels.feishu.inbound import CHANNEL
from aibot.core.approvals import (
    APPROVE,
    APPROVED,
    DENIED,
    DENY,
    NOT_WAITING,
    Approvals,
    Decision,
    approval_button,
)
from aibot.i18n import pick, translate

VALUE_KEY = "approval"


def question_card(markdown: str, token: str, locale: str | None) -> dict[str, Any]:
    """The question with its two buttons, labelled in the chat's language."""
    language = pick(locale)
    buttons = [
        {
            "tag": "column",
            "width": "auto",
            "elements": [
                {
                    "tag": "button",
                    "text": {"tag": "plain_text", "content": translate(language, label)},
                    "type": kind,
                    "behaviors": [
                        {"type": "callback", "value": {VALUE_KEY: approval_button(approve, token)}}
                    ],
                }
            ],
        }
        for approve, label, kind in ((True, APPROVE, "primary_filled"), (False, DENY, "danger"))
    ]
    return _card([_markdown(markdown), {"tag": "column_set", "columns": buttons}])


def settled_card(question: str, approved: bool) -> dict[str, Any]:
    """The question once decided: its text and the decision, no buttons."""
    decision = translate(pick(None), APPROVED if approved else DENIED)
    return _card([_markdown(question), _markdown(f"**{decision}**")])


def _markdown(text: str) -> dict[str, Any]:
    return {"tag": "markdown", "content": text}


def _card(elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema": "2.0", "config": {"update_multi": True}, "body": {"elements": elements}}


def is_approval(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get(VALUE_KEY), str)


async def answer_press(
    approvals: Approvals | None, user: str, value: dict[str, Any]
) -> dict[str, Any]:
    """What Feishu shows for the press of `user` (an open_id) on a button carrying `value`."""
    data = str(value[VALUE_KEY])
    decided = None if approvals is None else await approvals.press(CHANNEL, user, data)
    answer: dict[str, Any] = {"toast": _toast(decided)}
    if decided is not None:
        answer["card"] = {"type": "raw", "data": settled_card(decided.question, decided.approved)}
    return answer


def _toast(decided: Decision | None) -> dict[str, Any]:
    """Feishu sends no locale with a press; the toast carries both languages and the client
    shows the user's (`content` is the fallback)."""
    words = NOT_WAITING if decided is None else APPROVED if decided.approved else DENIED
    return {
        "type": "info" if decided is None else "success",
        "content": translate(pick(None), words),
        "i18n": {"zh_cn": translate("zh-CN", words), "en_us": translate("en", words)},
    }
