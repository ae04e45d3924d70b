"""Feishu's event encryption and request signature (PROTOCOLS.md §1.4–1.5).

`encrypt` = base64(IV ‖ AES-256-CBC(SHA-256(Encrypt Key), IV, PKCS#7₁₆(plaintext))); the
signature is plain SHA-256 hex (not HMAC) over `timestamp + nonce + encrypt_key` followed by the
raw body bytes. Both sides live here so the fake platform signs exactly as we verify.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

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
