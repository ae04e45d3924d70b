"""An integrator's message (`POST /api/v1/messages`) → `Inbound`, and what its reply carries.

The reply echoes the integrator's own ids and `metadata`, so they ride in the reply target.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field
from typing_extensions import TypeAliasType

from aibot.channels.http_bodies import SESSION_PATTERN, JsonBody
from aibot.channels.identity import api_caller, keyed_message_id
from aibot.core.messages import Inbound, JsonValue, ReplyTarget

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
    message: str = Field(min_length=1, description="At most server.max_message_chars long.")
    user_id: str | None = Field(None, max_length=255)
    metadata: dict[str, Metadata] = Field(
        default_factory=dict, description="Echoed in the callback."
    )


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """The webhook channel's part of a reply target: the integrator's ids and metadata."""

    session_id: str | None = None
    user_id: str | None = None
    message_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def target(self, principal: str | None = None) -> ReplyTarget:
        metadata: JsonValue = self.metadata
        return ReplyTarget(
            chat_id=principal,  # per-chat limits apply to the key
            platform={
                "session_id": self.session_id,
                "user_id": self.user_id,
                "message_id": self.message_id,
                "metadata": metadata,
            },
        )

    @classmethod
    def of(cls, target: ReplyTarget) -> WebhookReply:
        data = target.platform
        session, user, message = data.get("session_id"), data.get("user_id"), data.get("message_id")
        metadata = data.get("metadata")
        return cls(
            session if isinstance(session, str) else None,
            user if isinstance(user, str) else None,
            message if isinstance(message, str) else None,
            metadata if isinstance(metadata, dict) else {},
        )


def read_message(body: MessageBody, principal: str, received_at: float) -> Inbound:
    """The reply echoes the integrator's own ids; inside the gateway they live within its key
    (`channels/identity.py`)."""
    caller = api_caller(CHANNEL, principal, body.user_id, body.session_id)
    reply = WebhookReply(body.session_id, body.user_id, body.message_id, body.metadata)
    return Inbound(
        channel=CHANNEL,
        session_key=caller.session_key,
        user_id=caller.user_id,
        text=body.message,
        request_id=uuid.uuid4().hex,
        received_at=received_at,
        message_id=keyed_message_id(principal, body.message_id),
        principal=principal,
        target=reply.target(principal),
    )
