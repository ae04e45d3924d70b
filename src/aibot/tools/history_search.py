"""`conversation_search`: finds earlier messages of the caller's own conversation.

The conversation is the one the gateway says the caller is in (`ToolCaller.session_key`), never
one the model names, so no chat can read another's. The search runs over the turns as the store
opens them (so it works with encryption at rest), bounded to the newest `SCANNED` turns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aibot.core.messages import Tool, TurnRecord
from aibot.core.tools import ToolCaller
from aibot.tools.base import LocalTool, ToolFailed

SCANNED = 2000
SHOWN = 10
History = Callable[[str, int], Awaitable[list[TurnRecord]]]  # (session key, limit) → turns


def search(turns: list[TurnRecord], query: str, zone: str) -> str:
    terms = [t.casefold() for t in query.split() if t][:10]
    hits = [
        t
        for t in turns
        if t.role in ("user", "assistant")
        and t.content
        and all(term in t.content.casefold() for term in terms)
    ][-SHOWN:]
    if not hits:
        return "no earlier message matches"
    tz = ZoneInfo(zone)
    return "\n".join(
        f"[{datetime.fromtimestamp(t.created_at, tz):%Y-%m-%d %H:%M}] {t.role}: {t.content[:500]}"
        for t in hits
    )


def conversation_search_tool(history: History) -> LocalTool:
    async def run(arguments: dict[str, Any], caller: ToolCaller) -> str:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip() or len(query) > 200:
            raise ToolFailed("`query` (1 to 200 characters) is required")
        turns = await history(caller.session_key, SCANNED)
        return search(turns, query, caller.time_zone)

    return LocalTool(
        Tool(
            "conversation_search",
            "Finds earlier messages of this conversation containing all the given words.",
            {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "words to find"}},
                "required": ["query"],
            },
        ),
        run,
    )
