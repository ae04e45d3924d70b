"""The one small interface every model provider implements, and its error type."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from aibot.core.errors import ModelUnavailable
from aibot.core.messages import ChatRequest, ChatResult, Message, StreamDelta, Usage

__all__ = [
    "ChatRequest",
    "ChatResult",
    "Message",
    "Provider",
    "ProviderError",
    "StreamDelta",
    "Usage",
]


class ProviderError(ModelUnavailable):
    """A failed model call; `retryable` and `retry_after` drive the router's retry and failover.

    `detail` is the error as an OpenAI client reads it (`message`, `type`, `param`, `code`):
    the vendor's own for a request it refused, so `/v1` can hand it back as it came.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.detail = detail

    @property
    def kind(self) -> str:
        """A short label for metrics: timeout, rate_limited, server_error, auth, bad_response…"""
        if self.status is None:
            return "timeout" if "timed out" in str(self) else "network"
        if self.status == 429:
            return "rate_limited"
        if self.status in (401, 403):
            return "auth"
        if self.status == 402:
            return "account"  # the vendor account is out of credit: not the request's fault
        if self.status >= 500:
            return "server_error"
        if self.status == 200:
            return "bad_response"
        return "client_error"


class Provider(Protocol):
    name: str
    model: str

    async def chat(self, request: ChatRequest) -> ChatResult: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamDelta]: ...

    async def close(self) -> None: ...


def caller_fault(exc: ProviderError) -> bool:
    """A refusal of the request itself (400, 404, 413, 422…): retrying or asking another
    provider would not help, so it goes back to the caller as it came."""
    return exc.kind == "client_error" and not exc.retryable
