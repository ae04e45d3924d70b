"""What the gateway itself tells a chat user when it could not answer: one short sentence in
their language, never the library's error. The details go to the log under the request id, and
the sentence carries its first characters as a reference, so an admin can find them."""

from __future__ import annotations

from aibot.i18n import N_, translate

_FAILED = N_("The model is unavailable right now. Please try again later. (ref {ref})")
_BUSY = N_("Too many messages are waiting right now. Please try again in a moment. (ref {ref})")


def failure_notice(language: str, request_id: str, *, busy: bool = False) -> str:
    """The notice for a turn that got no answer; `busy`: refused for back-pressure."""
    return translate(language, _BUSY if busy else _FAILED, ref=reference(request_id))


def reference(request_id: str) -> str:
    """The part of a request id people read out: unique enough to grep the log for."""
    return request_id[:8]
