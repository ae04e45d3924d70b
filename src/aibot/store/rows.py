"""Stored inbox and outbox rows as the core's types, and the `target` column's JSON.

The target is stored as one flat JSON object (`ReplyTarget.to_json`), the shape stored rows
have always had, so databases written before `ReplyTarget` existed load without a migration.
Inbox rows also keep who sent the message, its request id, its attachments (platform ids,
never bytes) and the batch it is a piece of there, under `_principal`, `_request_id`,
`_attachments` and `_batch`, so a message redone after a restart keeps them; nothing outside
the store reads these keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from aibot.core.messages import (
    Attachment,
    InboxRow,
    OutboxRow,
    ReplyTarget,
    ToolCall,
    TurnRecord,
)

# A conversation read's raw values, as every store's read returns them (store/session_read.py).
Raw = tuple[Any, ...]
RawSession = tuple[Raw | None, list[Raw]]  # (model, context_from, updated_at), turns newest first

_PRINCIPAL, _REQUEST_ID, _ATTACHMENTS = "_principal", "_request_id", "_attachments"
_BATCH = "_batch"


def dump_target(
    target: ReplyTarget,
    *,
    principal: str | None = None,
    request_id: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    batch: str | None = None,
) -> str:
    data: dict[str, Any] = target.to_json()
    if principal is not None:
        data[_PRINCIPAL] = principal
    if request_id is not None:
        data[_REQUEST_ID] = request_id
    if attachments:
        data[_ATTACHMENTS] = [a.to_json() for a in attachments]
    if batch is not None:
        data[_BATCH] = batch
    return orjson.dumps(data).decode()


def load_target(raw: str) -> ReplyTarget:
    """A target column as `dump_target` wrote it (without principal or request id)."""
    return ReplyTarget.from_json(_load(raw))


def _attachments(raw: object) -> tuple[Attachment, ...]:
    items = raw if isinstance(raw, list) else []
    found = (Attachment.from_json(item) for item in items if isinstance(item, dict))
    return tuple(a for a in found if a is not None)


def _load(raw: str) -> dict[str, Any]:
    data = orjson.loads(raw or "{}")
    return data if isinstance(data, dict) else {}


def inbox_row(r: Mapping[Any, Any], *, text: str | None = None) -> InboxRow:
    """An inbox row's columns by name (a SQLAlchemy row's `_mapping`, an asyncpg record) as
    the core's type. `text`: the message as read (opened, when the store seals it); else the
    column."""
    data = _load(r["target"])
    principal, request_id = data.pop(_PRINCIPAL, None), data.pop(_REQUEST_ID, None)
    attachments = _attachments(data.pop(_ATTACHMENTS, None))
    batch = data.pop(_BATCH, None)
    return InboxRow(
        r["id"],
        r["channel"],
        r["message_id"],
        r["session_key"],
        r["user_id"],
        r["text"] if text is None else text,
        ReplyTarget.from_json(data),
        r["received_at"],
        r["attempts"],
        principal if isinstance(principal, str) else None,
        str(request_id) if request_id is not None else None,
        attachments,
        batch if isinstance(batch, str) else None,
    )


def outbox_row(r: Mapping[Any, Any], *, text: str | None = None) -> OutboxRow:
    """An outbox row's columns by name (a SQLAlchemy row's `_mapping`, an asyncpg record)."""
    return OutboxRow(
        r["id"],
        r["inbox_id"],
        r["channel"],
        r["session_key"],
        ReplyTarget.from_json(_load(r["target"])),
        r["text"] if text is None else text,
        r["attempts"],
        r["created_at"],
        r["next_attempt_at"],
        r["owner"],
    )


def dump_tool_data(record: TurnRecord) -> str | None:
    """A turn's tool part as the `tool_data` column holds it: the calls an assistant turn made,
    or the call a tool result answers; None for an ordinary turn."""
    if record.tool_calls:
        calls = [[c.id, c.name, c.arguments] for c in record.tool_calls]
        return orjson.dumps({"calls": calls}).decode()
    if record.tool_call_id is not None:
        return orjson.dumps({"id": record.tool_call_id, "name": record.name}).decode()
    return None


def load_tool_data(raw: str | None) -> dict[str, Any]:
    """`dump_tool_data`'s fields as TurnRecord keywords (empty for an ordinary turn)."""
    data = _load(raw) if raw else {}
    calls = data.get("calls")
    if isinstance(calls, list):
        return {
            "tool_calls": tuple(
                ToolCall(str(c[0]), str(c[1]), str(c[2]))
                for c in calls
                if isinstance(c, list) and len(c) == 3
            )
        }
    if "id" in data:
        name = data.get("name")
        return {"tool_call_id": str(data["id"]), "name": name if isinstance(name, str) else None}
    return {}
