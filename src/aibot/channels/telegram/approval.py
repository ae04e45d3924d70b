"""Approve/deny buttons under a tool-approval question, and what a press of one does.

The question (`core/approvals.py`) carries a random token in its target; the buttons carry it
back. A press settles the question exactly as typed `/approve` or `/deny` would, only for the
user who was asked; every press is answered (a toast), and after a decision the buttons are
taken off the question so it cannot be pressed again.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aibot.channels.errors import PlatformError
from aibot.channels.telegram.client import TelegramApi
from aibot.channels.telegram.inbound import CHANNEL, ButtonPress
from aibot.core.approvals import (
    APPROVE,
    APPROVED,
    DENIED,
    DENY,
    NOT_WAITING,
    Approvals,
    approval_button,
)
from aibot.core.messages import ReplyTarget
from aibot.i18n import pick, translate


def is_approval(data: str) -> bool:
    return data.startswith("tool:")


def approval_buttons(target: ReplyTarget) -> dict[str, Any] | None:
    """The two buttons of a question, labelled in the chat's language; None for anything else."""
    if target.approval is None:
        return None
    language = pick(target.locale)
    return {
        "inline_keyboard": [
            [
                {
                    "text": translate(language, APPROVE),
                    "callback_data": approval_button(True, target.approval),
                },
                {
                    "text": translate(language, DENY),
                    "callback_data": approval_button(False, target.approval),
                },
            ]
        ]
    }


async def answer_press(api: TelegramApi, approvals: Approvals | None, press: ButtonPress) -> None:
    """Settles the question when the press is its user's; always answers the query."""
    decided = (
        None if approvals is None else await approvals.press(CHANNEL, press.user_id, press.data)
    )
    toast = NOT_WAITING if decided is None else APPROVED if decided.approved else DENIED
    with contextlib.suppress(PlatformError):  # a query answered late only loses the toast
        await api.call(
            "answerCallbackQuery",
            callback_query_id=press.query_id,
            text=translate(pick(press.locale), toast),
        )
    if decided is not None and press.chat_id is not None and press.message_id is not None:
        with contextlib.suppress(PlatformError):  # the buttons then stay, and a press is stale
            await api.call(
                "editMessageReplyMarkup", chat_id=press.chat_id, message_id=press.message_id
            )
