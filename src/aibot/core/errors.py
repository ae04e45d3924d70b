"""Errors the core understands without knowing which component raised them."""

from __future__ import annotations


class ModelUnavailable(Exception):
    """The model could not answer; `str()` is safe to show the user."""


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
