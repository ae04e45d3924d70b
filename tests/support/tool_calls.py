"""What the tool tests share: a fake model that answers with what its tools returned, and
reading the tool turns and audit lines a gateway stored."""

from __future__ import annotations

import sqlite3
from typing import Any

import aiohttp
import orjson

from tests.fakes.openai_server import text_of
from tests.support.gateway import RunningGateway, rows


def answer_from_tools(body: dict[str, Any]) -> str:
    """The fake model's answer: the tool results since the last question, else an echo."""
    messages = body["messages"]
    asked = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    results = [text_of(m.get("content")) for m in messages[asked + 1 :] if m.get("role") == "tool"]
    if results:
        return "tools said: " + " | ".join(results)
    users = [m for m in body["messages"] if m.get("role") == "user"]
    return "echo: " + text_of(users[-1]["content"]) if users else "hello"


def tool_names(body: dict[str, Any]) -> list[str]:
    return [t["function"]["name"] for t in body.get("tools") or ()]


def tool_audit(gw: RunningGateway) -> list[tuple[str, str]]:
    return [
        (str(a), str(t))
        for a, t in rows(
            gw, "SELECT actor, target FROM audit_log WHERE action = 'tool.call' ORDER BY id"
        )
    ]


def stored_turns(gw: RunningGateway, session: str) -> list[tuple[str, str, str | None]]:
    """The turns of the REST conversation `session` (its key also names the API key)."""
    with sqlite3.connect(gw.workdir / "ai-bot.db") as db:
        found = db.execute(
            "SELECT role, content, tool_data FROM turns WHERE session_key LIKE ? "
            "ORDER BY created_at, id",
            (f"api:%{session}",),
        ).fetchall()
    return [(str(role), str(content), tool_data) for role, content, tool_data in found]


async def stream_chat(gw: RunningGateway, message: str, session: str) -> tuple[str, list[str]]:
    """`POST /api/v1/chat` with `stream`: the final reply and the streamed deltas."""
    deltas: list[str] = []
    reply = ""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{gw.url}/api/v1/chat",
            headers=gw.headers,
            json={"session_id": session, "message": message, "stream": True},
        ) as response,
    ):
        async for line in response.content:
            if not line.startswith(b"data:"):
                continue
            event = orjson.loads(line[5:])
            if event["type"] == "delta":
                deltas.append(event["text"])
            elif event["type"] == "done":
                reply = event["reply"]
            else:
                raise AssertionError(event)
    return reply, deltas
