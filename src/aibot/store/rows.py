"""Stored inbox and outbox rows as the core's types, and the `target` column's JSON.

The target is stored as one flat JSON object (`ReplyTarget.to_json`), the shape stored rows
have always had, so databases written before `ReplyTarget` existed load without a migration.
Inbox rows also keep who sent the message and its request id there, under `_principal` and
`_request_id`, so a message redone after a restart keeps them; nothing outside the store reads
these two keys.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Row

from aibot.core.messages import InboxRow, OutboxRow, ReplyTarget

_PRINCIPAL, _REQUEST_ID = "_principal", "_request_id"


def dump_target(
    target: ReplyTarget, *, principal: str | None = None, request_id: str | None = None
) -> str:
    data: dict[str, Any] = target.to_json()
    if principal is not None:
        data[_PRINCIPAL] = principal
    if request_id is not None:
        data[_REQUEST_ID] = request_id
    return orjson.dumps(data).decode()


def _load(raw: str) -> dict[str, Any]:
    data = orjson.loads(raw or "{}")
    return data if isinstance(data, dict) else {}


def inbox_row(r: Row[Any], *, text: str | None = None) -> InboxRow:
    """`text`: the message as read (opened, when the store seals it); else the column."""
    data = _load(r.target)
    principal, request_id = data.pop(_PRINCIPAL, None), data.pop(_REQUEST_ID, None)
    return InboxRow(
        r.id,
        r.channel,
        r.message_id,
        r.session_key,
        r.user_id,
        r.text if text is None else text,
        ReplyTarget.from_json(data),
        r.received_at,
        r.attempts,
        principal if isinstance(principal, str) else None,
        str(request_id) if request_id is not None else None,
    )


def outbox_row(r: Row[Any], *, text: str | None = None) -> OutboxRow:
    return OutboxRow(
        r.id,
        r.inbox_id,
        r.channel,
        r.session_key,
        ReplyTarget.from_json(_load(r.target)),
        r.text if text is None else text,
        r.attempts,
        r.created_at,
        r.next_attempt_at,
        r.owner,
    )
