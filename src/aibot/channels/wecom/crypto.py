"""WeCom's callback crypto (加解密方案): SHA-1 signatures and AES-256-CBC with 32-byte padding.

Written on `cryptography` rather than borrowed from an SDK because the reference code is lax where
it matters: wechatpy compares signatures with `!=`, trusts the last byte as the pad length and
draws its "random" prefix from `random`. Here signatures are compared in constant time, padding
is checked strictly (value 1–32, every pad byte equal), the declared length must fit, the
receiveid must be the corp id, and the 16-byte prefix comes from `secrets`.

Layout of a plaintext before padding: random(16) ‖ len(msg) as 4 bytes big-endian ‖ msg ‖
receiveid. Key = base64(EncodingAESKey + "="), IV = the key's first 16 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
from typing import Literal

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32  # WeCom pads to 32 bytes although the AES block is 16
RANDOM_BYTES = 16

Problem = Literal["signature", "decrypt", "receiveid"]


class CryptoError(Exception):
    """A callback that must be refused; `problem` says which config value would explain it."""

    def __init__(self, problem: Problem, detail: str, *, received_id: str | None = None) -> None:
        super().__init__(detail)
        self.problem = problem
        self.received_id = received_id


def aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes (43 letters and digits)")
    return key


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """sha1 over the four strings sorted lexicographically and joined without a separator."""
    joined = "".join(sorted((token, timestamp, nonce, encrypted)))
    return hashlib.sha1(joined.encode()).hexdigest()  # noqa: S324 - WeCom's scheme


def pad(data: bytes) -> bytes:
    """PKCS#7 to a multiple of 32 bytes: a whole block of 32 when already aligned."""
    count = BLOCK - len(data) % BLOCK
    return data + bytes([count]) * count


def unpad(data: bytes) -> bytes:
    """Strict inverse of `pad`: refuses anything `pad` could not have produced."""
    _whole_blocks(data)
    count = data[-1]
    if not 1 <= count <= BLOCK or count > len(data) or data[-count:] != bytes([count]) * count:
        raise CryptoError("decrypt", "bad padding")
    return data[:-count]


def _whole_blocks(data: bytes) -> None:
    """Padded plaintexts, and so ciphertexts, are non-empty multiples of 32 bytes."""
    if not data or len(data) % BLOCK:
        raise CryptoError("decrypt", "not a whole number of 32-byte blocks")


class WecomCrypto:
    """Signs, verifies, encrypts and decrypts for one (token, EncodingAESKey, receiveid)."""

    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        self._token = token
        self._key = aes_key(encoding_aes_key)
        self._receive_id = receive_id.encode()

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return signature(self._token, timestamp, nonce, encrypted)

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = self.sign(timestamp, nonce, encrypted).encode()
        presented = msg_signature.lower().encode("utf-8", "replace")
        if not hmac.compare_digest(expected, presented):
            raise CryptoError("signature", "msg_signature does not match")

    def encrypt(self, message: str, prefix: bytes | None = None) -> str:
        """`prefix` (16 bytes) is for test vectors only; normally it is fresh randomness."""
        random = secrets.token_bytes(RANDOM_BYTES) if prefix is None else prefix
        if len(random) != RANDOM_BYTES:
            raise ValueError("the random prefix must be 16 bytes")
        body = message.encode()
        plain = pad(random + struct.pack(">I", len(body)) + body + self._receive_id)
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("decrypt", "not base64") from None
        _whole_blocks(raw)
        decryptor = self._cipher().decryptor()
        plain = unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < RANDOM_BYTES + 4:
            raise CryptoError("decrypt", "plaintext too short")
        (length,) = struct.unpack(">I", plain[RANDOM_BYTES : RANDOM_BYTES + 4])
        start = RANDOM_BYTES + 4
        if start + length > len(plain):
            raise CryptoError("decrypt", "declared length exceeds the plaintext")
        received = plain[start + length :]
        if not hmac.compare_digest(received, self._receive_id):
            raise CryptoError(
                "receiveid",
                "receiveid is not the configured corp id",
                received_id=received.decode("utf-8", "replace")[:64],
            )
        try:
            return plain[start : start + length].decode()
        except UnicodeDecodeError:
            raise CryptoError("decrypt", "message is not UTF-8") from None

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))
