"""Who an API call speaks for, and which conversation it continues: decided here, once.

The authenticating key names the caller (`principal`, never a secret). The end user a caller
names (`user` in OpenAI's API) is only ever known *within* that key: two keys naming the same
`user` are two people, so the limits, quotas and audit lines of one can never land on the other.
A conversation the gateway remembers is bound to the key the same way, so a caller cannot read
another key's conversation by guessing its name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ApiCaller:
    user_id: str  # limits, quotas, audit: `api:<key>:<user>`, or `api:<key>` without one
    session_key: str  # the remembered conversation, or a fresh id for a stateless call


def api_caller(channel: str, principal: str, user: str | None, session: str | None) -> ApiCaller:
    user_id = f"api:{principal}:{user}" if user else f"api:{principal}"
    if session is None:
        return ApiCaller(user_id, f"{channel}:{uuid.uuid4().hex}")
    return ApiCaller(user_id, f"{channel}:{principal}:{session}")
