"""Feishu's event encryption, request signature and webhook checks (PROTOCOLS.md §1.4–1.6).

`encrypt` = base64(IV ‖ AES-256-CBC(SHA-256(Encrypt Key), IV, PKCS#7₁₆(plaintext))); the
signature is plain SHA-256 hex (not HMAC) over `timestamp + nonce + encrypt_key` followed by the
raw body bytes. Both sides live here so the fake platform signs exactly as we verify.

`WebhookVerifier` turns one webhook request into a trusted payload, or a 4xx saying why not.
Checks, in order: the body is a JSON object; an `encrypt` body decrypts with our Encrypt Key
(and an Encrypt Key means every body must be encrypted); events carry a fresh, valid
`X-Lark-Signature` when an Encrypt Key is set; the Verification Token matches. The URL challenge
is not signed by Feishu (lark-oapi does not check it either), so for it a successful decryption
plus the token is the proof; a signature on it, if present, must still be right.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 16


class DecryptError(ValueError):
    """The `encrypt` field is not something our Encrypt Key produced."""


def _key(encrypt_key: str) -> bytes:
    return hashlib.sha256(encrypt_key.encode("utf-8")).digest()


def encrypt(encrypt_key: str, plaintext: bytes, iv: bytes | None = None) -> str:
    """What Feishu puts in `{"encrypt": …}`; a random IV unless one is given (test vectors)."""
    iv = os.urandom(_BLOCK) if iv is None else iv
    padder = padding.PKCS7(_BLOCK * 8).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode("ascii")


def decrypt(encrypt_key: str, value: str) -> bytes:
    """The plaintext of an `encrypt` field; `DecryptError` for anything malformed."""
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise DecryptError("not base64") from None
    if len(raw) < 2 * _BLOCK or len(raw) % _BLOCK:
        raise DecryptError("invalid ciphertext length")
    decryptor = Cipher(algorithms.AES(_key(encrypt_key)), modes.CBC(raw[:_BLOCK])).decryptor()
    padded = decryptor.update(raw[_BLOCK:]) + decryptor.finalize()
    unpadder = padding.PKCS7(_BLOCK * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise DecryptError("invalid padding (wrong Encrypt Key?)") from None


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """The `X-Lark-Signature` value for `body`."""
    digest = hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body)
    return digest.hexdigest()


def signature_matches(
    presented: str, timestamp: str, nonce: str, encrypt_key: str, body: bytes
) -> bool:
    """Constant-time comparison, so the signature cannot be guessed byte by byte."""
    expected = signature(timestamp, nonce, encrypt_key, body)
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode("ascii"))


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
