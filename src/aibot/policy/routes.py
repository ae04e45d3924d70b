"""Routes: the first whose conditions all hold decides model, persona and filters for a message.

Conversations are split between the default provider and a canary by a hash of the session
key, so a conversation stays on one side of the split for its whole life.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from aibot.config import CanaryConfig, RouteConfig
from aibot.core.messages import Inbound


@dataclass(frozen=True, slots=True)
class _CompiledRoute:
    config: RouteConfig
    regex: re.Pattern[str] | None

    def matches(self, inbound: Inbound) -> bool:
        m = self.config.match
        return (
            (m.channel is None or m.channel == inbound.channel)
            and (m.chat_type is None or m.chat_type == inbound.chat_type)
            and (m.chat_id is None or m.chat_id == inbound.chat_id)
            and (m.user_id is None or m.user_id == inbound.user_id)
            and (m.prefix is None or inbound.text.lstrip().startswith(m.prefix))
            and (self.regex is None or self.regex.search(inbound.text) is not None)
        )


class RouteTable:
    def __init__(self, routes: list[RouteConfig]) -> None:
        self._routes = [
            _CompiledRoute(r, re.compile(r.match.regex) if r.match.regex else None) for r in routes
        ]

    def resolve(self, inbound: Inbound) -> RouteConfig | None:
        for route in self._routes:
            if route.matches(inbound):
                return route.config
        return None


def in_canary(session_key: str, canary: CanaryConfig | None) -> bool:
    """Sticky: the same session key always lands on the same side (stable across restarts)."""
    if canary is None or canary.weight <= 0:
        return False
    digest = hashlib.blake2b(session_key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 10_000 < canary.weight * 100
