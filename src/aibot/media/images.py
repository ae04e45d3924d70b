"""Pictures: proven to be a PNG, JPEG, GIF or WebP by decoding them (Pillow), and made small
enough for a vision model. A file that only claims to be an image is refused; SVG and HTML are
never images here. Blocking: callers run it in a thread."""

from __future__ import annotations

import io
from pathlib import Path

from aibot.core.media import MediaRefused
from aibot.media.sniff import IMAGE_TYPES, sniff

MAX_PIXELS = 40_000_000  # decoding more is a decompression bomb, not a screenshot
MAX_SIDE = 2048  # vision models downscale beyond this anyway
MAX_SENT = 4 * 1024 * 1024


def prepare_image(path: Path) -> tuple[str, bytes]:
    """The picture as the model gets it: (MIME type, bytes), re-encoded as JPEG when it is
    larger than a vision model reads."""
    from PIL import Image, UnidentifiedImageError

    with path.open("rb") as file:
        head = file.read(32)
    mime = sniff(head)
    if mime not in IMAGE_TYPES:
        raise MediaRefused("not_an_image")
    try:
        with Image.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise MediaRefused("not_an_image")
            image.load()
            if max(image.size) <= MAX_SIDE and path.stat().st_size <= MAX_SENT:
                return mime, path.read_bytes()
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=85)
            return "image/jpeg", out.getvalue()
    except MediaRefused:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise MediaRefused("not_an_image") from None
