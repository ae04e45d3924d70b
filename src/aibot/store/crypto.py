"""Values encrypted at rest: AES-256-GCM (the `cryptography` library), one key id per value.

A stored value is `enc1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`, a plain string that
fits the existing text columns, so a database can hold plaintext, old-key and new-key values at
once while it is migrated or rotated in place (store/rekey.py). The key id is derived from the
key itself (8 hex digits of an HMAC), so a wrong key can never be mistaken for the right one:
its id differs, and the startup check (store/data_keys.py) names the id it is missing.

Each value gets a fresh random 96-bit nonce: safe for far more values than one key will ever
seal between rotations. Sealing a short message costs a few microseconds, so it is done inline
where rows are built.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aibot.config.base import ConfigError
from aibot.config.encryption import EncryptionConfig
from aibot.i18n import N_

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc1:"
KEY_BYTES = 32
NONCE_BYTES = 12
_ID_LENGTH = 8
_HEADER = len(PREFIX) + _ID_LENGTH + 1


class DataKeyError(ConfigError):
    """A data key problem the operator must fix; `str()` is one line that says how."""


def new_key() -> str:
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def parse_key(text: str, where: str) -> bytes:
    """32 bytes as base64 (standard or URL-safe, padding optional) or 64 hex digits."""
    text = text.strip()
    raw: bytes | None = None
    if len(text) == 2 * KEY_BYTES:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        try:
            padded = text + "=" * (-len(text) % 4)
            raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != KEY_BYTES:
        raise DataKeyError.of(
            N_(
                "{where} is not a 256-bit key (expected 44 base64 characters); "
                "make one with `ai-bot data-key new`"
            ),
            where=where,
        )
    return raw


def key_id(key: bytes) -> str:
    return hmac.new(key, b"ai-bot data key id", hashlib.sha256).hexdigest()[:_ID_LENGTH]


def _read_key_file(path: Path, where: str) -> str:
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataKeyError.of(
            N_("{where}: cannot read {path}: {reason}"),
            where=where,
            path=str(path),
            reason=exc.strerror,
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise DataKeyError.of(
            N_("{where}: {path} is readable by other users; chmod 600 {path}"),
            where=where,
            path=str(path),
        )
    return text


class Keyring:
    """The current key (what new values are sealed with) and the old ones still readable."""

    def __init__(self, current: bytes, old: list[bytes] | None = None) -> None:
        # `cryptography` is imported by the first keyring, not at start: without encryption
        # at rest (the default) the gateway never needs it.
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._damaged = (InvalidTag, binascii.Error, ValueError)
        self.current_id = key_id(current)
        self._current = AESGCM(current)
        self._keys: dict[str, AESGCM] = {key_id(k): AESGCM(k) for k in (old or [])}
        self._keys[self.current_id] = self._current

    @property
    def key_ids(self) -> set[str]:
        return set(self._keys)

    def seal(self, text: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._current.encrypt(nonce, text.encode(), None)
        return f"{PREFIX}{self.current_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def seal_optional(self, text: str | None) -> str | None:
        return None if text is None else self.seal(text)

    def open(self, value: str) -> str:
        """The plaintext of a sealed value; a value without the prefix is returned as is (rows
        written before encryption was turned on, until the migration reaches them)."""
        if not value.startswith(PREFIX):
            return value
        found = value[len(PREFIX) : _HEADER - 1]
        cipher = self._keys.get(found)
        if cipher is None:
            raise DataKeyError.of(
                N_(
                    "a stored value is encrypted with data key {key}, which is not configured: "
                    "add it to storage.encryption.old_keys"
                ),
                key=found,
            )
        try:
            blob = base64.urlsafe_b64decode(value[_HEADER:])
            return cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], None).decode()
        except self._damaged:
            raise DataKeyError.of(
                N_("a stored value under data key {key} is damaged"), key=found
            ) from None

    def open_optional(self, value: str | None) -> str | None:
        return None if value is None else self.open(value)

    def open_or_plain(self, value: str) -> str:
        """For the in-place migration: a value that only looks sealed, under a key id this
        keyring does not know, is plaintext written before encryption was turned on (a user
        can type anything, `enc1:…` included; every key the store used was proven at start).
        Treating it as damage would let one message stop the migration for good."""
        if self.key_of(value) not in self._keys:
            return value
        return self.open(value)

    @staticmethod
    def key_of(value: str | None) -> str | None:
        """The key id a stored value is sealed with; None for plaintext (or NULL)."""
        if value is None or not value.startswith(PREFIX) or len(value) < _HEADER:
            return None
        return value[len(PREFIX) : _HEADER - 1]


def keyring_for(config: EncryptionConfig | None) -> Keyring | None:
    """The keyring `storage.encryption` describes; None when encryption is off."""
    if config is None:
        return None
    where = "storage.encryption.key"
    if config.key is not None:
        current = parse_key(config.key.get_secret_value(), where)
    else:
        assert config.key_file is not None
        where = "storage.encryption.key_file"
        current = parse_key(_read_key_file(config.key_file, where), where)
    old = [parse_key(k.get_secret_value(), "storage.encryption.old_keys") for k in config.old_keys]
    old += [
        parse_key(_read_key_file(path, "storage.encryption.old_key_files"), str(path))
        for path in config.old_key_files
    ]
    return Keyring(current, old)


class Cipher(Protocol):
    """What the store seals values with: a Keyring, or Plain when encryption is off."""

    def seal(self, text: str) -> str: ...

    def seal_optional(self, text: str | None) -> str | None: ...

    def open(self, value: str) -> str: ...

    def open_optional(self, value: str | None) -> str | None: ...


class Plain:
    """What the store uses when encryption is off: values pass through unchanged."""

    @staticmethod
    def seal(text: str) -> str:
        return text

    @staticmethod
    def seal_optional(text: str | None) -> str | None:
        return text

    @staticmethod
    def open(value: str) -> str:
        return value

    @staticmethod
    def open_optional(value: str | None) -> str | None:
        return value


PLAIN = Plain()
