"""What the fake records for tests to read: calls, chat actions, webhook deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.fakes.telegram_api.protocol import JSON


@dataclass(slots=True)
class ApiCall:
    """One Bot API call as received; ``status``/``response`` are filled in when answered."""

    method: str  # as spelled in the URL
    params: JSON  # typed: ints are ints, JSON-valued fields are decoded
    http_method: str
    content_type: str
    at: float  # loop time (monotonic) of arrival
    status: int | None = None
    response: Any = None


@dataclass(frozen=True, slots=True)
class ChatAction:
    chat_id: int | str
    action: str
    message_thread_id: int | None
    at: float  # loop time (monotonic), so tests can check the re-send interval


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST attempt: ``status`` is the HTTP status, or None with ``error`` set."""

    update_id: int
    attempt: int
    url: str
    secret_token: str | None
    status: int | None
    error: str | None
    at: float


@dataclass(slots=True)
class _Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    attempts: dict[int, int] = field(default_factory=dict)
