"""Who a caller of the web page or an API speaks for, and which conversation it continues:
decided here, once, for every channel whose callers name their own ids.

The authenticating key names the caller (`principal`, never a secret). Every id such a caller
chooses (`user` and `X-Session-Id` on /v1, `user_id` and `session_id` on REST and the webhook
channel, the page's session id) is only ever known *within* that key:

- an end user is `api:<key>:<user>` (`api:<key>` when none is named), so two keys naming the
  same user are two people, and no name a caller picks can equal a platform's user
  (`telegram:4242`) or an admin listed in `policy.access.admins`;
- a remembered conversation is `<channel>:<key>:<session>`, so a second key cannot read or
  continue the first one's by guessing its name;
- a visitor of the page is known by the key and the client address, never by the session id the
  page sends: a fresh session per message does not make a fresh user for the rate limits.

A principal's own `:` (a company IdP's `idp:<issuer>:<sub>`) is escaped, so these names never
collide across keys.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

# The principal of the page on a loopback bind, where it asks for no key.
OPEN_PAGE = "web-local"
_MESSAGE_ID_MAX = 255  # the inbox's column


@dataclass(frozen=True, slots=True)
class ApiCaller:
    user_id: str  # limits, quotas, audit
    session_key: str  # the remembered conversation, or a fresh id for a stateless call


def random_id() -> str:
    """128 random bits as 32 hex digits, like `uuid4().hex` (which costs 4× as much: it builds
    a UUID object around the same `os.urandom(16)`): request ids, fresh conversations."""
    return os.urandom(16).hex()


def _within(principal: str) -> str:
    return principal.replace("%", "%25").replace(":", "%3A")


def api_user(principal: str, user: str | None) -> str:
    name = _within(principal)
    return f"api:{name}:{user}" if user else f"api:{name}"


def api_caller(channel: str, principal: str, user: str | None, session: str | None) -> ApiCaller:
    if session is None:
        return ApiCaller(api_user(principal, user), f"{channel}:{random_id()}")
    return ApiCaller(api_user(principal, user), f"{channel}:{_within(principal)}:{session}")


def page_caller(principal: str, address: str, session: str) -> ApiCaller:
    """The page's visitor and conversation. The open loopback page keeps its conversations'
    old names (`web:<session>`): it has one principal, and its session ids hold no `:`."""
    name = _within(principal)
    key = f"web:{session}" if principal == OPEN_PAGE else f"web:{name}:{session}"
    return ApiCaller(f"web:{name}:{address}", key)


def keyed_message_id(principal: str, message_id: str) -> str:
    """An integrator's message id within its key, so another key cannot make it a duplicate."""
    named = f"{_within(principal)}:{message_id}"
    if len(named) <= _MESSAGE_ID_MAX:
        return named
    digest = hashlib.sha256(named.encode()).hexdigest()
    return f"sha256:{digest}"
