"""WeCom's test credentials and limits, what the fake records, and its card checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

CORP_ID = "ww5823bf96d3bd56c7"
SECRET = "Sx1oGd2u5XqZ7QwErTyUiOpAsDfGhJkLzXcVbNm1234"  # 43 characters, like a real one
AGENT_ID = 1000002
TOKEN = "QDG6eK"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
MAX_CONTENT_BYTES = 2048
MEMBER_LIMIT = (30, 60.0)
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
INVALID_PARAMETER = 40058  # [?] the exact errcode of each card mistake is not documented

JSON = dict[str, Any]


@dataclass
class Sent:
    """A message WeCom accepted and showed the member (after truncation); a template card's
    `content` is its title, `card` the card, `replaced` the label its buttons were updated to."""

    touser: str
    msgtype: str
    content: str
    agentid: int
    at: float
    truncated: bool = False
    card: JSON | None = None
    replaced: str | None = None


@dataclass
class Delivery:
    """One try of a callback push: the status (None: timeout/network) and the body."""

    attempt: int
    status: int | None
    body: bytes
    elapsed: float


@dataclass
class _Token:
    value: str
    expires_at: float
    revoked: bool = False


def _card_problem(card: object, task_ids: set[str]) -> str | None:
    """What WeCom would refuse in a button_interaction card (None: nothing)."""
    if not isinstance(card, dict) or card.get("card_type") != "button_interaction":
        return "card_type"
    if not (card.get("main_title") or {}).get("title") and not card.get("sub_title_text"):
        return "main_title.title or sub_title_text"
    task = card.get("task_id")
    if not isinstance(task, str) or not TASK_ID.fullmatch(task) or task in task_ids:
        return "task_id"
    buttons = card.get("button_list")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 6:
        return "button_list"
    keys = [b.get("key") for b in buttons if isinstance(b, dict) and b.get("text")]
    if len(keys) != len(buttons) or len(set(keys)) != len(keys):
        return "button_list.key"
    if not all(isinstance(k, str) and 0 < len(k.encode()) <= 1024 for k in keys):
        return "button_list.key"
    return None
