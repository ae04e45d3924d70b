"""Checks one WeCom callback request and opens it, or says which config value explains a refusal.

Order matters: the signature (which needs the Token) is checked before anything is decrypted, so
a caller without the Token learns nothing about the key or the padding. XML is parsed with
defusedxml and DTDs are refused outright: WeCom never sends one, and entity tricks (billion
laughs, external entities) must not get near a parser.

The callback crypto (加解密方案): SHA-1 signatures and AES-256-CBC with 32-byte padding.

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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote
from xml.etree.ElementTree import Element, ParseError

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]

from aibot.channels.base import Problem as Fix
from aibot.config import WecomChannelConfig
from aibot.i18n import N_

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


REPLAY_WINDOW = 3600.0  # seconds a callback's timestamp may differ from our clock
MAX_PARAM = 1024  # WeCom's parameters are short; the echostr is well under this


class Rejected(Exception):
    """A callback refused with `status`; `reason` is a short word safe to answer with; `fix`
    what the user must change (the log's English, the status in the reader's language)."""

    def __init__(self, status: int, reason: str, fix: Fix) -> None:
        super().__init__(str(fix))
        self.status = status
        self.reason = reason
        self.fix = fix


def parse_xml(text: str | bytes) -> Element:
    """Safe XML: no DTD, no entities, no external references."""
    try:
        root: Element = fromstring(text, forbid_dtd=True)
    except (ParseError, ValueError) as exc:  # defusedxml's refusals are ValueErrors
        unacceptable = Fix(N_("not acceptable XML ({kind})"), {"kind": type(exc).__name__})
        raise Rejected(400, "xml", unacceptable) from None
    return root


def query_params(raw: bytes) -> dict[str, str]:
    """Percent-decoded query parameters, first occurrence winning.

    Unlike form decoding, "+" stays "+": WeCom's echostr is base64, and a "+" left unencoded by
    a proxy must not turn into a space and break the signature.
    """
    params: dict[str, str] = {}
    for pair in raw.decode("latin-1").split("&"):
        name, _, value = pair.partition("=")
        params.setdefault(unquote(name, errors="replace"), unquote(value, errors="replace"))
    return params


def child_text(root: Element, tag: str) -> str | None:
    element = root.find(tag)
    return None if element is None else (element.text or "")


@dataclass(frozen=True)
class Explainer:
    """Turns a crypto failure into the config value the user has to fix."""

    corp_id: str

    def __call__(self, error: CryptoError) -> Rejected:
        if error.problem == "signature":
            return Rejected(
                403,
                "signature",
                Fix(
                    N_(
                        "msg_signature does not match: the Token in the "
                        "WeCom console (接收消息 → 设置API接收) differs from "
                        "channels.wecom.token"
                    )
                ),
            )
        if error.problem == "receiveid":
            return Rejected(
                400,
                "receiveid",
                Fix(
                    N_(
                        "the callback is for corp {received}, not channels.wecom.corp_id "
                        "{corp_id}: fix corp_id"
                    ),
                    {"received": repr(error.received_id), "corp_id": repr(self.corp_id)},
                ),
            )
        return Rejected(
            400,
            "decrypt",
            Fix(
                N_(
                    "could not decrypt ({error}): the EncodingAESKey in the "
                    "WeCom console differs from channels.wecom.encoding_aes_key"
                ),
                {"error": str(error)},
            ),
        )


class CallbackVerifier:
    def __init__(
        self, config: WecomChannelConfig, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.crypto = WecomCrypto(
            config.token.get_secret_value(),
            config.encoding_aes_key.get_secret_value(),
            config.corp_id,
        )
        self._explain = Explainer(config.corp_id)
        self._clock = clock

    def echo(self, params: Mapping[str, str]) -> str:
        """URL verification: the decrypted `echostr`, to be answered verbatim."""
        echostr = self._param(params, "echostr")
        return self._open(params, echostr)

    def open_post(self, params: Mapping[str, str], body: bytes) -> Element:
        """The decrypted message of a POST, as an XML element."""
        encrypted = child_text(parse_xml(body), "Encrypt")
        if not encrypted:
            raise Rejected(400, "xml", Fix(N_("no Encrypt element in the body")))
        return parse_xml(self._open(params, encrypted))

    def _open(self, params: Mapping[str, str], encrypted: str) -> str:
        signature = self._param(params, "msg_signature")
        timestamp = self._param(params, "timestamp")
        nonce = self._param(params, "nonce")
        try:
            self.crypto.verify(signature, timestamp, nonce, encrypted)
        except CryptoError as exc:
            raise self._explain(exc) from None
        fresh = (
            timestamp.isascii()
            and timestamp.isdigit()
            and abs(self._clock() - int(timestamp)) <= REPLAY_WINDOW
        )
        if not fresh:
            raise Rejected(
                403,
                "timestamp",
                Fix(
                    N_(
                        "the callback's timestamp is more than an hour "
                        "from this server's time: check the clock (NTP)"
                    )
                ),
            )
        try:
            return self.crypto.decrypt(encrypted)
        except CryptoError as exc:
            raise self._explain(exc) from None

    @staticmethod
    def _param(params: Mapping[str, str], name: str) -> str:
        value = params.get(name)
        if not value or len(value) > MAX_PARAM:
            raise Rejected(
                400,
                "params",
                Fix(N_("missing or oversized query parameter {name}"), {"name": name}),
            )
        return value
