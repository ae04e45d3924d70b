"""A generic asynchronous channel for integrators: messages in over HTTP, replies to a callback.

`POST /api/v1/messages` commits the message to the durable inbox and answers 202 at once; the
reply is POSTed later to `channels.webhook.callback_url`, signed, with retries through the
outbox. It is the same path the platform channels take, for systems that are not a chat app.

Callback signature: `X-AIBot-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`
with `X-AIBot-Timestamp` (UNIX seconds); `Idempotency-Key` is stable across retries.
"""

import hashlib
import hmac
import time
import uuid
from typing import Annotated, Literal

import aiohttp
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from typing_extensions import TypeAliasType

from aibot.channels.http_api.rest import API_ERRORS, SESSION_PATTERN, JsonBody
from aibot.channels.http_api.verify import ApiKeys
from aibot.config import WebhookChannelConfig
from aibot.core.errors import SendError
from aibot.core.inbox import Inbox
from aibot.core.messages import Inbound, Outbound

CHANNEL = "webhook"


# Any JSON, with integers past 64 bits read as floats (as orjson reads them): such an integer
# kept as one could not be stored with the message, a 500 found by schemathesis.
Int64 = Annotated[int, Field(ge=-(2**63), le=2**64 - 1)]
Metadata = TypeAliasType(
    "Metadata", "bool | Int64 | float | str | list[Metadata] | dict[str, Metadata] | None"
)


class MessageBody(JsonBody):
    message_id: str = Field(min_length=1, max_length=255, description="Your id; dedupes retries.")
    session_id: str = Field(pattern=SESSION_PATTERN)
    message: str = Field(min_length=1, max_length=100_000)
    user_id: str | None = Field(None, max_length=255)
    metadata: dict[str, Metadata] = Field(
        default_factory=dict, description="Echoed in the callback."
    )


class Queued(BaseModel):
    status: Literal["accepted", "duplicate"]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def build_webhook_router(inbox: Inbox, keys: ApiKeys) -> APIRouter:
    router = APIRouter(tags=["webhook channel"])

    @router.post(
        "/api/v1/messages",
        status_code=202,
        response_model=Queued,
        responses={
            **API_ERRORS,
            200: {"model": Queued, "description": "Already queued (same message_id): nothing new"},
        },
    )
    async def receive(body: MessageBody, request: Request) -> JSONResponse:
        """Queue a message durably; the reply is delivered to the callback URL."""
        who = keys.require(request)
        accepted = await inbox.accept(
            Inbound(
                channel=CHANNEL,
                session_key=f"{CHANNEL}:{body.session_id}",
                user_id=body.user_id or body.session_id,
                text=body.message,
                request_id=uuid.uuid4().hex,
                received_at=time.time(),
                message_id=body.message_id,
                principal=who,
                target={
                    "session_id": body.session_id,
                    "user_id": body.user_id,
                    "message_id": body.message_id,
                    "metadata": body.metadata,
                },
            )
        )
        return JSONResponse(
            {"status": "accepted" if accepted else "duplicate"},
            status_code=202 if accepted else 200,
        )

    return router


class WebhookSender:
    def __init__(self, config: WebhookChannelConfig) -> None:
        self._url = config.callback_url
        self._secret = config.secret.get_secret_value() if config.secret else ""
        self._timeout = aiohttp.ClientTimeout(total=config.timeout)
        self._session: aiohttp.ClientSession | None = None

    async def send(self, outbound: Outbound) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        target = outbound.target
        body = orjson.dumps(
            {
                "session_id": target.get("session_id"),
                "user_id": target.get("user_id"),
                "in_reply_to": target.get("message_id"),
                "metadata": target.get("metadata") or {},
                "text": outbound.text,
                "reply_id": outbound.outbox_id,
            }
        )
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-AIBot-Timestamp": timestamp,
            "Idempotency-Key": f"reply-{outbound.outbox_id}",
        }
        if self._secret:
            headers["X-AIBot-Signature"] = sign(self._secret, timestamp, body)
        try:
            async with self._session.post(self._url, data=body, headers=headers) as response:
                if response.status < 300:
                    return
                retry_after = response.headers.get("Retry-After")
                raise SendError(
                    f"callback answered HTTP {response.status}",
                    permanent=400 <= response.status < 500 and response.status not in (408, 429),
                    retry_after=float(retry_after)
                    if retry_after and retry_after.isdigit()
                    else None,
                )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SendError(f"callback failed: {exc!r}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
