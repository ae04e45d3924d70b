"""Delivers a reply to the integrator's callback URL: one signed POST on a pooled session.

`Idempotency-Key: reply-<outbox id>` is stable across retries, so the integrator can drop a
repeat. A 4xx other than 408/429 is final; anything else (5xx, no answer) is retried by the
outbox, after `Retry-After` when the receiver sends one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from aibot.channels.errors import PlatformError
from aibot.channels.webhook.inbound import WebhookReply
from aibot.channels.webhook.verify import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from aibot.config import WebhookChannelConfig
from aibot.core.messages import Outbound

if TYPE_CHECKING:
    import aiohttp


class CallbackClient:
    def __init__(self, config: WebhookChannelConfig, now: Callable[[], float]) -> None:
        self._url = config.callback_url
        self._secret = config.secret.get_secret_value() if config.secret else ""
        self._timeout = config.timeout
        self._now = now
        self._session: aiohttp.ClientSession | None = None

    async def send(self, outbound: Outbound) -> None:
        import aiohttp  # at the first reply delivered, not at start

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout)
            )
        reply = WebhookReply.of(outbound.target)
        body = orjson.dumps(
            {
                "session_id": reply.session_id,
                "user_id": reply.user_id,
                "in_reply_to": reply.message_id,
                "metadata": reply.metadata,
                "text": outbound.text,
                "reply_id": outbound.outbox_id,
            }
        )
        timestamp = str(int(self._now()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            "Idempotency-Key": f"reply-{outbound.outbox_id}",
        }
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(self._secret, timestamp, body)
        try:
            async with self._session.post(self._url, data=body, headers=headers) as response:
                if response.status < 300:
                    return
                retry_after = response.headers.get("Retry-After")
                raise PlatformError(
                    f"callback answered HTTP {response.status}",
                    status=response.status,
                    permanent=400 <= response.status < 500 and response.status not in (408, 429),
                    retry_after=float(retry_after)
                    if retry_after and retry_after.isdigit()
                    else None,
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PlatformError(f"callback failed: {exc!r}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
