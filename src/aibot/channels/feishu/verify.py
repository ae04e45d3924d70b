"""Turns one webhook request into a trusted payload, or a 4xx saying why not.

Checks, in order: the body is a JSON object; an `encrypt` body decrypts with our Encrypt Key
(and an Encrypt Key means every body must be encrypted); events carry a fresh, valid
`X-Lark-Signature` when an Encrypt Key is set; the Verification Token matches. The URL challenge
is not signed by Feishu (lark-oapi does not check it either), so for it a successful decryption
plus the token is the proof; a signature on it, if present, must still be right.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

import orjson

from aibot.channels.feishu.crypto import DecryptError, decrypt, signature_matches

TIMESTAMP_HEADER = "X-Lark-Request-Timestamp"
NONCE_HEADER = "X-Lark-Request-Nonce"
SIGNATURE_HEADER = "X-Lark-Signature"


class Rejected(Exception):
    """The request is refused with `status`; `reason` goes to the log, never to the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Verified:
    challenge: str | None
    payload: dict[str, Any]


class WebhookVerifier:
    def __init__(self, verification_token: str, encrypt_key: str, max_age: float) -> None:
        self._token = verification_token
        self._key = encrypt_key
        self._max_age = max_age

    def verify(self, headers: dict[str, str], body: bytes, now: float) -> Verified:
        outer = _object(body)
        if "encrypt" in outer:
            if not self._key:
                raise Rejected(400, "encrypted event but channels.feishu.encrypt_key is not set")
            if not isinstance(outer["encrypt"], str):
                raise Rejected(400, "encrypt is not a string")
            try:
                payload = _object(decrypt(self._key, outer["encrypt"]))
            except DecryptError as exc:
                raise Rejected(400, f"cannot decrypt: {exc}") from None
        elif self._key:
            raise Rejected(400, "plaintext event but an Encrypt Key is configured")
        else:
            payload = outer
        signed = SIGNATURE_HEADER.lower() in headers
        if payload.get("type") == "url_verification":
            if signed:
                self._check_signature(headers, body, now)
            self._check_token(payload.get("token"))
            challenge = payload.get("challenge")
            if not isinstance(challenge, str):
                raise Rejected(400, "challenge is not a string")
            return Verified(challenge, payload)
        if self._key:
            self._check_signature(headers, body, now)
        header = payload.get("header")
        token = header.get("token") if isinstance(header, dict) else payload.get("token")
        self._check_token(token)
        return Verified(None, payload)

    def _check_signature(self, headers: dict[str, str], body: bytes, now: float) -> None:
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        nonce = headers.get(NONCE_HEADER.lower(), "")
        presented = headers.get(SIGNATURE_HEADER.lower(), "")
        try:
            age = abs(now - float(timestamp))
        except ValueError:
            raise Rejected(401, "missing or malformed signature timestamp") from None
        if not age <= self._max_age:  # also refuses NaN
            raise Rejected(401, f"signature timestamp is {age:.0f}s off")
        if not signature_matches(presented, timestamp, nonce, self._key, body):
            raise Rejected(401, "bad X-Lark-Signature (check channels.feishu.encrypt_key)")

    def _check_token(self, token: object) -> None:
        if not self._token:
            return
        if not isinstance(token, str) or not hmac.compare_digest(
            token.encode("utf-8", "replace"), self._token.encode("utf-8")
        ):
            raise Rejected(401, "bad verification token (check channels.feishu.verification_token)")


def _object(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Rejected(400, "body is not JSON") from None
    if not isinstance(value, dict):
        raise Rejected(400, "body is not a JSON object")
    return value
