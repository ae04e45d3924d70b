"""What a user is told when an attachment cannot be used: one clear, polite line in their
language, naming the limit or what the admin must set (catalog: `aibot.i18n`)."""

from __future__ import annotations

from aibot import i18n
from aibot.core.media import MediaRefused
from aibot.i18n import N_

_REPLIES: dict[str, str] = {
    "too_big": N_("The file is too large to read (limit {limit})."),
    "unsupported_file": N_(
        "This file type is not supported. Send a PDF, Word (DOCX), Excel (XLSX), CSV or text file."
    ),
    "not_an_image": N_(
        "This picture cannot be read: it is not a valid PNG, JPEG, GIF or WebP image."
    ),
    "malformed": N_("The file is damaged and cannot be read."),
    "zip_bomb": N_(
        "The file was refused for safety: it expands to far more than its size when opened."
    ),
    "encrypted": N_("The file is password-protected, so it cannot be read."),
    "no_text": N_("The file contains no text that can be read."),
    "not_audio": N_("This voice message is in a format that cannot be read."),
    "speech_failed": N_(
        "The voice message could not be turned into text. Please try again, or type it."
    ),
    "no_ffmpeg": N_(
        "This voice message needs converting, but ffmpeg is not installed on the server. "
        "Please ask the admin to install it."
    ),
    "no_vision": N_(
        "The current model cannot read pictures. The admin can set "
        "models.providers.<name>.vision: true on a model that can, or models.vision: <name>."
    ),
    "no_stt": N_(
        "Voice messages are not set up yet: the admin can set models.stt. "
        "Please type your message instead."
    ),
    "quota": N_(
        "You have reached today's limit of {limit} pictures and files. Please try tomorrow."
    ),
    "fetch_failed": N_("The file could not be downloaded. Please send it again."),
    "disabled": N_("Pictures, voice and files are not enabled here. Please send text."),
}


def refusal_text(refused: MediaRefused, language: i18n.Language) -> str:
    template = _REPLIES.get(refused.reason, _REPLIES["fetch_failed"])
    values = {key: _shown(value) for key, value in refused.values.items()}
    return i18n.translate(language, template, **values)


def _shown(value: object) -> str:
    """Byte counts as MB, the way people read a limit."""
    if isinstance(value, int) and value >= 1024 * 1024:
        return f"{value / (1024 * 1024):.0f} MB"
    return str(value)
