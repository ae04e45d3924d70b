"""The turns a replica's message appended, in the form they travel to the next holder of the
session's lock with the conversation stamp (replicas/locks.py; issue 20).

With no balancer affinity, half of a conversation's messages reach the replica that did not
answer the one before; each caught up by reading the turns the other appended, one query
per such message (14 % of a replica's GIL time under the bench's reused path). The holder
already has those turns in memory when it releases the lock, and the release is a round trip
to Redis anyway, so it leaves them there with the stamp, and the next holder takes them with
the lock: no query.

What travels is what a cached turn holds (role, content, time, reasoning, request id), as
one JSON array sealed with the store's data key when encryption at rest is on, so Redis holds
no plaintext the database would not. Left out, and read from the store as before: turns of
tool calls (their calls and results), and appended turns over `CARRY_LIMIT` in that form
(a stamp lives an hour: the limit bounds what each conversation active in that hour keeps in
Redis). A carried value that does not open (a data key dropped since, damage, plaintext where
sealed values are expected) is not used: the store is read instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from aibot.core.messages import TurnRecord
from aibot.core.sessions import CachedTurn
from aibot.store.crypto import PLAIN, Cipher, DataKeyError, Keyring

CARRY_LIMIT = 16 * 1024  # characters of the carried (sealed) form


def carry(cipher: Cipher, turns: Sequence[CachedTurn]) -> str | None:
    """The turns as they travel; None when they cannot (a tool turn) or are over the limit."""
    rows = []
    size = 0
    for t in turns:
        if t["tool_calls"] or t["tool_call_id"] is not None or t["name"] is not None:
            return None
        size += len(t["content"]) + len(t["reasoning"] or "")
        if size > CARRY_LIMIT:  # known before encoding a long answer
            return None
        rows.append((t["role"], t["content"], t["created_at"], t["reasoning"], t["request_id"]))
    value = cipher.seal(orjson.dumps(rows).decode())
    return value if len(value) <= CARRY_LIMIT else None


def uncarry(cipher: Cipher, value: str) -> list[TurnRecord] | None:
    """The carried turns, oldest first; None when the value cannot be trusted to be them."""
    if cipher is not PLAIN and Keyring.key_of(value) is None:
        return None  # encryption is on: only a sealed value was left by a replica
    try:
        rows = orjson.loads(cipher.open(value))
        if not isinstance(rows, list):
            return None
        return [_record(*row) for row in rows]
    except (DataKeyError, TypeError, ValueError):  # orjson's decode error is a ValueError
        return None


def _record(
    role: object, content: object, created_at: object, reasoning: object, request_id: object
) -> TurnRecord:
    if not (
        isinstance(role, str)
        and isinstance(content, str)
        and isinstance(created_at, float | int)
        and isinstance(reasoning, str | None)
        and isinstance(request_id, str | None)
    ):
        raise ValueError("not a carried turn")
    return TurnRecord(role, content, float(created_at), reasoning, request_id=request_id)
