"""`storage.encryption:` — conversations encrypted at rest (AES-256-GCM), with rotating keys."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from aibot.config.base import Section, invalid
from aibot.i18n import N_


class EncryptionConfig(Section):
    """Message text, answers and TOTP secrets are stored encrypted; each value names its key,
    so `ai-bot data-key rotate` can move them to a new one while the gateway runs."""

    key: SecretStr | None = Field(
        None,
        description=N_(
            "The current data key: 32 random bytes as base64 (`ai-bot data-key new` "
            'makes one); use "${AIBOT_DATA_KEY}" rather than writing it here.'
        ),
    )
    key_file: Path | None = Field(
        None, description=N_("Or: a file (mode 0600) holding the current data key.")
    )
    old_keys: list[SecretStr] = Field(
        default=[],
        description=N_(
            "Keys data may still be encrypted with; remove one only after "
            "`ai-bot data-key rotate` says nothing uses it any more."
        ),
    )
    old_key_files: list[Path] = Field(
        default=[], description=N_("Old keys kept in files, as old_keys.")
    )

    @model_validator(mode="after")
    def _one_current_key(self) -> EncryptionConfig:
        if (self.key is None) == (self.key_file is None):
            raise invalid(
                N_(
                    "set exactly one of storage.encryption.key and storage.encryption.key_file "
                    "(make a key with `ai-bot data-key new`)"
                )
            )
        return self

    def secret_values(self) -> list[str]:
        return [k.get_secret_value() for k in (self.key, *self.old_keys) if k is not None]
