"""What a file really is, from its first bytes: the sender's (or platform's) type is a claim.

Only formats the gateway reads are named; anything else is `None` and refused by the caller.
"""

from __future__ import annotations

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
    (b"OggS", 0, "audio/ogg"),
    (b"fLaC", 0, "audio/flac"),
    (b"ID3", 0, "audio/mpeg"),
    (b"#!AMR", 0, "audio/amr"),
    (b"#!SILK", 0, "audio/silk"),
    (b"\x02#!SILK", 0, "audio/silk"),
    (b"\x1aE\xdf\xa3", 0, "audio/webm"),
)

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
AUDIO_EXTENSIONS = {
    "audio/wav": "wav",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/mpeg": "mp3",
    "audio/amr": "amr",
    "audio/silk": "silk",
    "audio/webm": "webm",
    "audio/mp4": "m4a",
}


def sniff(head: bytes) -> str | None:
    """The MIME type the first bytes (at least 16) prove, or None."""
    for magic, offset, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp":
        return "audio/mp4"  # MP4/M4A: as input it is only ever read for its sound
    if head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    return None


def looks_like_text(head: bytes) -> bool:
    """UTF-8 (or UTF-16 with a BOM) without NUL bytes: a text, CSV, Markdown or code file."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a character cut at the end of the sample
    return True
