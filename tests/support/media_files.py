"""Small real files for the media tests, made with the libraries users' files come from:
a PNG (Pillow), a WAV (the standard library's `wave`) and an OGG/Opus made from it (ffmpeg), a
PDF (pypdf), a DOCX (python-docx), an XLSX (openpyxl), and the hostile ones: a zip bomb
dressed as a DOCX, a broken PDF, text that claims to be a PNG."""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import tempfile
import wave
import zipfile
from pathlib import Path


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def wav(seconds: float = 0.5, rate: int = 16000) -> bytes:
    """A 440 Hz tone, 16-bit mono PCM."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(frames)
    return out.getvalue()


def transcode(data: bytes, suffix: str, *args: str) -> bytes:
    """`data` (WAV) converted by ffmpeg to the format `suffix` names (.ogg, .amr)."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg is not None, "the media tests need ffmpeg"
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder, "in.wav"), Path(folder, f"out{suffix}")
        source.write_bytes(data)
        subprocess.run(
            [ffmpeg, "-nostdin", "-v", "error", "-i", str(source), *args, str(target)],
            check=True,
            timeout=60,
        )
        return target.read_bytes()


def ogg_opus() -> bytes:
    return transcode(wav(), ".ogg", "-c:a", "libopus", "-b:a", "24k")


def amr(frames: int = 50) -> bytes:
    """What WeCom delivers: AMR narrow-band, 8 kHz, in the RFC 4867 storage format (`#!AMR\n`,
    then 12.2 kbit/s frames: a 0x3C header and 31 bytes each). ffmpeg builds often lack an AMR
    encoder, so the frames are written here; any payload bits decode (to noise)."""
    payload = bytes((i * 37 + 11) % 256 for i in range(31))
    return b"#!AMR\n" + (b"\x3c" + payload) * frames


def pdf(*pages: str) -> bytes:
    """A PDF whose pages show `pages` (Helvetica, one line each), written by pypdf."""
    from pypdf import PdfWriter
    from pypdf.generic import (
        DecodedStreamObject,
        DictionaryObject,
        NameObject,
    )

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for text in pages or ("Quarterly revenue was 42 million.",):
        page = writer.add_blank_page(612, 792)
        stream = DecodedStreamObject()
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream.set_data(f"BT /F1 18 Tf 72 700 Td ({escaped}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(*paragraphs: str, table: list[list[str]] | None = None) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                grid.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def xlsx(rows: list[list[object]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sales"
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_bomb_docx(unzipped_mb: int = 64) -> bytes:
    """A DOCX-shaped zip whose one part inflates to `unzipped_mb` MB of zeros (ratio ~1000)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            block = b"\0" * (1024 * 1024)
            for _ in range(unzipped_mb):
                part.write(block)
    return out.getvalue()


def broken_pdf() -> bytes:
    """Starts like a PDF, then nothing a reader can use."""
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\ngarbage\n%%EOF"


def fake_png() -> bytes:
    """Text (an HTML page) sent as image/png."""
    return b"<html><script>alert(1)</script></html>"
