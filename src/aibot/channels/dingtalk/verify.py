"""HTTP-mode request signatures: headers `timestamp` (ms) and
`sign = base64(HMAC-SHA256(key=appSecret, msg=timestamp + "\\n" + appSecret))` (PROTOCOLS §0, D1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlsplit

_MAX_TIMESTAMP_DIGITS = 16


def sign(timestamp: str, secret: str) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(timestamp: str, signature: str, secret: str, *, now_ms: int, max_age_ms: int) -> bool:
    """True for a well-formed timestamp within `max_age_ms` of now and its exact signature
    (compared in constant time)."""
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return False
    if abs(now_ms - int(timestamp)) > max_age_ms:
        return False
    return hmac.compare_digest(
        signature.encode("utf-8", "surrogatepass"), sign(timestamp, secret).encode()
    )


class ReplayGuard:
    """One signature opens one message. DingTalk's signature covers only the timestamp, so a
    captured `timestamp`/`sign` pair would sign any body until it ages out: a pair seen with
    another `msgId` is refused (a redelivery of the same message, same pair, passes; the inbox
    drops it as a duplicate). Pairs are remembered for the signature's age window, in this
    process; at most `limit` of them (only verified ones, so a sender cannot fill it)."""

    def __init__(self, max_age_ms: int, limit: int = 100_000) -> None:
        self._max_age_ms = max_age_ms
        self._limit = limit
        self._seen: dict[str, tuple[str, int]] = {}  # signature -> (msgId, forget after, ms)

    def admit(self, signature: str, message_id: str, now_ms: int) -> bool:
        self._forget(now_ms)
        seen = self._seen.get(signature)
        if seen is not None:
            return seen[0] == message_id
        self._seen[signature] = (message_id, now_ms + 2 * self._max_age_ms)
        return True

    def _forget(self, now_ms: int) -> None:
        """Entries go in (roughly) in time order: drop from the oldest while expired or full."""
        while self._seen:
            signature, (_message, until) = next(iter(self._seen.items()))
            if until > now_ms and len(self._seen) < self._limit:
                return
            del self._seen[signature]


def trusted_webhook(url: str, hosts: list[str], api_base: str) -> bool:
    """A reply link DingTalk may have given: https on one of `hosts`, or exactly the origin of
    the configured `api_base` (a test's fake, a private deployment); no credentials in it."""
    try:
        link, api = urlsplit(url), urlsplit(api_base)
        port, api_port = link.port, api.port
    except ValueError:
        return False
    if link.username is not None or link.password is not None or not link.hostname:
        return False
    if (link.scheme, link.hostname, port) == (api.scheme, api.hostname, api_port):
        return True
    return link.scheme == "https" and port in (None, 443) and link.hostname in hosts
