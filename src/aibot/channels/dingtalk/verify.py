"""HTTP-mode request signatures: headers `timestamp` (ms) and
`sign = base64(HMAC-SHA256(key=appSecret, msg=timestamp + "\\n" + appSecret))` (PROTOCOLS §0, D1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

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
