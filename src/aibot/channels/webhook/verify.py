"""The callback signature the integrator checks: proof that a reply comes from this gateway.

`X-AIBot-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, with
`X-AIBot-Timestamp` (UNIX seconds) so a receiver can refuse stale or replayed callbacks.
Incoming messages are checked by API key (`channels/api_keys.py`), like the REST API.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-AIBot-Signature"
TIMESTAMP_HEADER = "X-AIBot-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()
