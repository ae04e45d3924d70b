"""A generic asynchronous channel for integrators: messages in over HTTP, replies to a callback.

`POST /api/v1/messages` commits the message to the durable inbox and answers 202 at once; the
reply is POSTed later to `channels.webhook.callback_url`, signed, with retries through the
outbox. It is the same path the platform channels take, for systems that are not a chat app,
and it is built, started and reported like any of them.

Callback signature: `X-AIBot-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`
with `X-AIBot-Timestamp` (UNIX seconds); `Idempotency-Key` is stable across retries.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from aibot.channels.base import ChannelContext
from aibot.channels.webhook.client import CallbackClient
from aibot.channels.webhook.inbound import CHANNEL
from aibot.config import WebhookChannelConfig
from aibot.core.media import MediaFetcher
from aibot.core.messages import Inbound, Outbound
from aibot.core.pipeline import DeltaSink

if TYPE_CHECKING:
    from fastapi import APIRouter


class WebhookChannel:
    name = CHANNEL
    media: MediaFetcher | None = None  # no attachments read yet

    def __init__(self, config: WebhookChannelConfig, context: ChannelContext) -> None:
        self._context = context
        self._client = CallbackClient(config, context.clock.now)

    @property
    def exclusive(self) -> bool:
        return False

    def status(self, language: str) -> dict[str, Any]:
        return {"ok": True}

    async def start(self) -> None:
        """Nothing to connect: messages arrive on the route."""

    async def stop(self) -> None:
        """Nothing to stop: the route goes with the server."""

    async def close(self) -> None:
        await self._client.close()

    def router(self) -> APIRouter | None:
        from aibot.channels.webhook.webhook import build_router  # FastAPI: the full app's build

        return build_router(self._context.inbox, self._context.keys, self._context.clock.now)

    @contextlib.asynccontextmanager
    async def presence(self, inbound: Inbound) -> AsyncIterator[DeltaSink | None]:
        """The integrator gets the whole reply in one callback: nothing to show meanwhile."""
        yield None

    async def send(self, outbound: Outbound) -> None:
        await self._client.send(outbound)
