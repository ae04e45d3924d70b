"""Errors the core understands without knowing which component raised them."""

from __future__ import annotations

from typing import Any


class ModelUnavailable(Exception):
    """The model could not answer; `str()` is safe to show the user.

    A provider's failure also says what an API caller needs to hear it as the vendor said it:
    the HTTP `status` the vendor answered, `retry_after` seconds, and `detail` (OpenAI's error
    object: message, type, param, code). None where there was no such answer.
    """

    status: int | None = None
    retry_after: float | None = None
    detail: dict[str, Any] | None = None


class QueueFull(Exception):
    """Back-pressure: the dispatcher holds as many messages as it is allowed to."""


class AccessDenied(Exception):
    """The message has no valid credential or principal."""


class SendError(Exception):
    """A channel could not deliver a reply; the outbox retries it unless `permanent`."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class CoordinationUnavailable(Exception):
    """The store replicas coordinate through (Redis) cannot be reached: work waits for it."""


class StaleWrite(Exception):
    """A fenced write found its row already changed: another replica finished the work."""
