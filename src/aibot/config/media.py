"""The `media:` section (pictures, voice and files users send) and `models.stt` (speech to text).

Which model sees pictures is said per provider (`models.providers.<name>.vision`, presets know
the common vision models) and by `models.vision`, the provider used when the chat's own cannot.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from aibot.config.base import Section, parse_duration
from aibot.i18n import N_

MB = 1024 * 1024
UPLOAD_FRAMING = 65_536  # a multipart upload's part headers and boundaries around its file


class MediaConfig(Section):
    enabled: bool = Field(True, description=N_("Read pictures, voice and files (false: a notice)."))
    dir: str | None = Field(
        None,
        description=N_(
            "Where attachments are kept (files 0600, named by content hash); default: "
            "'media' beside the SQLite database, else data/media."
        ),
    )
    max_bytes: int = Field(
        20 * MB, ge=1024, description=N_("Largest attachment accepted, in bytes (20 MB).")
    )
    download_timeout: float = Field(
        60.0, gt=0, description=N_("Seconds allowed to download one attachment (e.g. 60s).")
    )
    max_files: int = Field(10, ge=1, le=50, description=N_("Attachments read per message."))
    daily_quota: int = Field(
        200, ge=0, description=N_("Attachments one user may send per 24 hours (0: no limit).")
    )
    file_tokens: int = Field(
        6000,
        ge=200,
        description=N_(
            "Most tokens of text taken from one file (and never more than half of "
            "session.max_context_tokens); a longer file is cut, with a note saying so."
        ),
    )
    album_window: float = Field(
        1.5,
        gt=0,
        le=60,
        description=N_(
            "Seconds an album (pictures sent together, e.g. Telegram's media_group_id) "
            "is held after its newest picture before all of it is answered as one message "
            "(e.g. 1.5s)."
        ),
    )
    image_prompt: str | None = Field(
        None,
        description=N_(
            "The question sent with a picture that came without text "
            "(default: describe it, or answer what it asks)."
        ),
    )

    @field_validator("download_timeout", "album_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


def upload_body_bytes(server_max_body_bytes: int, media: MediaConfig) -> int:
    """The largest request body the gateway reads on the paths that take uploads (REST and the
    web page): a file of `media.max_bytes` in its multipart form, and never less than
    `server.max_body_bytes`. A proxy in front must let such a body through."""
    return max(server_max_body_bytes, media.max_bytes + UPLOAD_FRAMING)


class SpeechConfig(Section):
    """An OpenAI-compatible `POST {base_url}/audio/transcriptions` (OpenAI whisper-1,
    SiliconFlow SenseVoice, Groq whisper, a local whisper server)."""

    provider: str | None = Field(
        None, description=N_("A provider under models.providers whose base_url and key to use.")
    )
    base_url: str | None = Field(None, description=N_("Base URL (…/v1); overrides the provider's."))
    api_key: SecretStr | None = Field(None, description=N_("API key; overrides the provider's."))
    model: str = Field(
        "whisper-1",
        description=N_("e.g. whisper-1, FunAudioLLM/SenseVoiceSmall, whisper-large-v3."),
    )
    formats: list[str] = Field(
        default_factory=lambda: ["wav", "mp3", "ogg", "m4a", "webm", "flac"],
        description=N_(
            "Audio formats the service takes as they are; others (AMR, SILK…) are "
            "converted to 16 kHz WAV with ffmpeg first."
        ),
    )
    timeout: float = Field(60.0, gt=0, description=N_("Seconds allowed for one transcription."))
    language: str | None = Field(None, description=N_("ISO-639-1 hint (zh, en); unset: detect."))
