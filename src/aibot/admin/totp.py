"""TOTP second factor (RFC 6238 over RFC 4226 HOTP), as authenticator apps implement it.

Written out here rather than pulled in as a dependency: it is a dozen lines of HMAC, and the
unit tests check it against the RFC's own test vectors.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from urllib.parse import quote, urlencode

STEP = 30
DIGITS = 6


def new_secret() -> str:
    """160 random bits, base32 without padding: what apps expect to scan or type."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(code % 10**digits).zfill(digits)


def step_at(now: float) -> int:
    return int(now // STEP)


def matching_step(secret: str, code: str, now: float, *, window: int = 1) -> int | None:
    """The time step `code` is valid for (±`window` steps of clock drift), or None.

    The caller stores the step and refuses it and older ones afterwards, so a code seen over
    someone's shoulder cannot be replayed inside its 30 seconds.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    key = _key(secret)
    found = None
    current = step_at(now)
    for step in range(current - window, current + window + 1):
        if hmac.compare_digest(hotp(key, step), code) and found is None:
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str = "ai-bot") -> str:
    """The otpauth:// URI authenticator apps import (as text or a QR code)."""
    label = quote(f"{issuer}:{account}")
    query = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": STEP}
    )
    return f"otpauth://totp/{label}?{query}"
