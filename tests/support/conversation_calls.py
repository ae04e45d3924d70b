"""Conversations driven the way the scale-out, encryption and archive tests drive them: webhook
messages re-sent until acknowledged (as a platform does), REST chat, and the fake model's answer
that proves which turns the gateway remembered."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp

from tests.fakes.openai_server import text_of
from tests.support.gateway import API_KEY, RunningGateway

HEADERS = {"Authorization": f"Bearer {API_KEY}"}


def remembered_users(body: dict[str, Any]) -> str:
    """The fake model's answer: every user message in its context, oldest first."""
    return "|".join(text_of(m["content"]) for m in body["messages"] if m["role"] == "user")


async def deliver(
    http: aiohttp.ClientSession, url: str, message_id: str, session: str, text: str
) -> None:
    """Posts a message until a replica acknowledges it, as a platform retries a webhook."""
    for _ in range(100):
        with contextlib.suppress(aiohttp.ClientError):
            async with http.post(
                f"{url}/api/v1/messages",
                headers=HEADERS,
                json={
                    "message_id": message_id,
                    "session_id": session,
                    "message": text,
                },
            ) as response:
                if response.status in (200, 202):
                    return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{message_id} was never acknowledged")


async def chat(
    http: aiohttp.ClientSession, gw: RunningGateway, session: str, text: str, user: str = "dave"
) -> str:
    async with http.post(
        f"{gw.url}/api/v1/chat",
        headers=HEADERS,
        json={
            "session_id": session,
            "message": text,
            "user_id": user,
        },
    ) as response:
        body = await response.json()
        assert response.status == 200, body
        return str(body["reply"])
