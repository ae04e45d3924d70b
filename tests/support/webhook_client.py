"""The generic webhook channel from its caller's side: the config that points it at a callback
receiver, and `POST /api/v1/messages` as an integrator sends it."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.fakes.callback_receiver import CallbackReceiver
from tests.support.gateway import RunningGateway

CALLBACK_SECRET = "callback-secret-123"


def webhook_config(receiver: CallbackReceiver, **outbox: Any) -> dict[str, Any]:
    return {
        "channels": {
            "webhook": {"callback_url": receiver.url, "secret": CALLBACK_SECRET, "timeout": 2}
        },
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s", **outbox},
    }


async def post_message(
    gw: RunningGateway, message_id: str, text: str, session: str = "c1"
) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{gw.url}/api/v1/messages",
            headers=gw.headers,
            json={
                "message_id": message_id,
                "session_id": session,
                "message": text,
                "metadata": {"ticket": 7},
            },
        ) as response,
    ):
        return response.status, (await response.json())["status"]
