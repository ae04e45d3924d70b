"""Approve/deny buttons under a tool-approval question, and what a press of one does.

The question (`core/approvals.py`) is sent as text (it may be long), followed by a template
card of type `button_interaction` whose two buttons carry the question's token in their `key`
(`task_id` is the token too: unique per app, as WeCom requires). A press arrives through the
encrypted callback as a `template_card_event` (`EventKey` = the button's key, `TaskId`,
`ResponseCode`, the presser in `FromUserName`); it settles the question exactly as typed
`/approve` or `/deny` would, only for the member who was asked, and the card's buttons are then
replaced (`message/update_template_card` with the press's one-time `ResponseCode`) by what
happened — approved, denied, or expired for a press nothing waits on any more — so no press
goes unanswered and none can be repeated.
"""

from __future__ import annotations

from typing import Any

from aibot.channels.wecom.inbound import CHANNEL, CardPress
from aibot.core.approvals import APPROVE, DENY, Approvals, approval_button
from aibot.i18n import N_, pick, translate

TITLE = N_("Allow this tool call?")
CHOSEN = {True: N_("Approved"), False: N_("Denied"), None: N_("Expired")}
UPDATE_PATH = "message/update_template_card"


def question_card(user: str, agent_id: int, token: str, locale: str | None) -> dict[str, Any]:
    """The `message/send` body of the card under a question, in the chat's language."""
    language = pick(locale)
    return {
        "touser": user,
        "msgtype": "template_card",
        "agentid": agent_id,
        "template_card": {
            "card_type": "button_interaction",
            "main_title": {"title": translate(language, TITLE)},
            "task_id": token,
            "button_list": [
                {
                    "text": translate(language, label),
                    "style": style,
                    "key": approval_button(approve, token),
                }
                for approve, label, style in ((True, APPROVE, 1), (False, DENY, 2))
            ],
        },
        "enable_duplicate_check": 0,
    }


async def settle(
    approvals: Approvals | None, press: CardPress, agent_id: int
) -> dict[str, Any] | None:
    """Settles the question when the press is its member's; returns the body that replaces
    the card's buttons with the outcome (None when WeCom gave no code to update with)."""
    decided = None if approvals is None else await approvals.press(CHANNEL, press.user, press.key)
    if not press.response_code:
        return None
    outcome = CHOSEN[None if decided is None else decided.approved]
    return {
        "userids": [press.user],
        "agentid": agent_id,
        "response_code": press.response_code,
        "button": {"replace_name": translate(pick(None), outcome)},  # WeCom sends no locale
    }
