"""Telegram's webhook proof: the secret token given to `setWebhook`, sent back in a header.

Compared in constant time, so the secret cannot be guessed byte by byte; an empty secret
(never configured) matches nothing.
"""

from __future__ import annotations

import hmac

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name


def secret_matches(presented: str, secret: str) -> bool:
    return bool(secret) and hmac.compare_digest(presented.encode(), secret.encode())
