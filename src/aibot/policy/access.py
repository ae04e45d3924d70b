"""Who is answered: allow/deny lists of users and chats, DM policy, pairing, admins.

Ids in the lists are either a bare platform id (`12345`) or `channel:id` (`telegram:12345`),
so one list can name users of several platforms without ambiguity where it matters.

Only a platform vouches for its users' ids (a signed webhook, a bot connection). The callers of
the web page and the APIs name their own ids, so for them `admins` is never consulted: their
admin rights come from the key they authenticated with (`channels/api_keys.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum

from aibot.config import AccessConfig
from aibot.core.messages import Inbound

# Channels whose callers already proved themselves with an API key: DM policies (allowlist,
# pairing) are for platform users, not for the integrator's own clients.
KEYED_CHANNELS = frozenset({"api", "openai", "web", "webhook", "cli"})


class Verdict(Enum):
    ALLOW = "allow"
    DENY = "deny"  # told `denied_message` in a DM, silence in a group
    PAIR = "pair"  # unknown user under dm_policy: pairing


def _names(ids: list[str]) -> frozenset[str]:
    return frozenset(i.strip() for i in ids if i.strip())


def _listed(names: frozenset[str], channel: str, ident: str) -> bool:
    return ident in names or f"{channel}:{ident}" in names


class AccessPolicy:
    def __init__(self, config: AccessConfig) -> None:
        self.config = config
        self._allow_users = _names(config.allow_users)
        self._deny_users = _names(config.deny_users)
        self._allow_chats = _names(config.allow_chats)
        self._deny_chats = _names(config.deny_chats)
        self._admins = _names(config.admins)

    def verdict(self, inbound: Inbound) -> Verdict:
        channel, user = inbound.channel, inbound.user_id
        if _listed(self._deny_users, channel, user):
            return Verdict.DENY
        if inbound.chat_type == "group":
            chat = inbound.chat_id
            if _listed(self._deny_chats, channel, chat):
                return Verdict.DENY
            if self._allow_chats and not _listed(self._allow_chats, channel, chat):
                return Verdict.DENY
            return Verdict.ALLOW
        if channel in KEYED_CHANNELS or _listed(self._allow_users, channel, user):
            return Verdict.ALLOW
        if self.config.dm_policy == "pairing":
            return Verdict.PAIR
        if self.config.dm_policy == "allowlist" or self._allow_users:
            return Verdict.DENY
        return Verdict.ALLOW

    def is_admin(self, inbound: Inbound, admin_key: Callable[[str | None], bool]) -> bool:
        """`admin_key` says whether an authenticated key (by its name) grants admin rights."""
        if not self._admins or inbound.channel == "cli":
            return True  # `ai-bot chat` is the operator at the server's shell, config in hand
        if inbound.channel in KEYED_CHANNELS:
            return admin_key(inbound.principal)
        return _listed(self._admins, inbound.channel, inbound.user_id)
