"""Text out of the files users send: PDF (pypdf), DOCX (python-docx), XLSX (openpyxl), and
text files (TXT, MD, CSV, code), bounded by a token budget.

The rule (README, "Pictures, voice and files"): a file's text gets at most its budget; a longer
file keeps its beginning and ends with a note saying it was cut and how much was read, so the
model says so instead of guessing about the rest. Zip containers (DOCX, XLSX) are measured
before they are opened: too many entries, too much uncompressed data or a compression ratio no
office file has is refused as a zip bomb. Everything here blocks: callers run it in a thread.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from aibot.core.media import MediaRefused
from aibot.core.tokens import estimate_tokens
from aibot.media.sniff import looks_like_text, sniff

MAX_ZIP_ENTRIES = 2000
MAX_UNZIPPED = 200 * 1024 * 1024
MAX_RATIO = 100  # office XML compresses 5-20x; a bomb, thousands
MAX_PAGES = 500
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True, slots=True)
class Extracted:
    mime: str
    text: str
    cut: bool  # the file had more text than its budget


def kind_of(path: Path) -> str:
    """The file's real type, from its bytes (and, for a zip, what is inside): PDF, DOCX,
    XLSX or text/plain; anything else is refused."""
    with path.open("rb") as file:
        head = file.read(4096)
    found = sniff(head)
    if found == PDF:
        return PDF
    if found == "application/zip":
        return _office_kind(path)
    if found is None and looks_like_text(head):
        return "text/plain"
    raise MediaRefused("unsupported_file")


def extract(path: Path, budget_tokens: int) -> Extracted:
    mime = kind_of(path)
    pieces = {PDF: _pdf, DOCX: _docx, XLSX: _xlsx}.get(mime, _plain)(path)
    text, cut = _bounded(pieces, budget_tokens)
    if not text.strip():
        raise MediaRefused("no_text")
    return Extracted(mime, text, cut)


def _bounded(pieces: Iterator[str], budget: int) -> tuple[str, bool]:
    """The pieces that fit `budget` tokens, and whether any text was left out."""
    out: list[str] = []
    used = 0
    for piece in pieces:
        cost = estimate_tokens(piece)
        if used + cost > budget:
            room = budget - used
            if room > 20:
                out.append(piece[: room * 2])  # at most 2 characters a token either way
            return "\n".join(out), True
        out.append(piece)
        used += cost
    return "\n".join(out), False


def _office_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            if len(entries) > MAX_ZIP_ENTRIES:
                raise MediaRefused("zip_bomb")
            unzipped = sum(e.file_size for e in entries)
            packed = sum(e.compress_size for e in entries)
            if unzipped > MAX_UNZIPPED or unzipped > MAX_RATIO * max(packed, 1):
                raise MediaRefused("zip_bomb")
            names = {e.filename for e in entries}
    except zipfile.BadZipFile:
        raise MediaRefused("malformed") from None
    if "word/document.xml" in names:
        return DOCX
    if "xl/workbook.xml" in names:
        return XLSX
    raise MediaRefused("unsupported_file")


def _pdf(path: Path) -> Iterator[str]:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise MediaRefused("encrypted")
        pages = reader.pages
        count = len(pages)
        for index in range(min(count, MAX_PAGES)):
            yield f"[page {index + 1}/{count}]\n" + (pages[index].extract_text() or "")
    except MediaRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise MediaRefused("malformed") from None


def _docx(path: Path) -> Iterator[str]:
    import docx

    try:
        document = docx.Document(str(path))
    except Exception:  # python-docx raises many kinds on a broken package
        raise MediaRefused("malformed") from None
    for paragraph in document.paragraphs:
        if paragraph.text.strip():
            yield paragraph.text
    for number, table in enumerate(document.tables, 1):
        yield f"[table {number}]"
        for row in table.rows:
            yield " | ".join(cell.text.strip() for cell in row.cells)


def _xlsx(path: Path) -> Iterator[str]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a broken package
        raise MediaRefused("malformed") from None
    try:
        for sheet in book.worksheets:
            yield f"[sheet {sheet.title}]"
            for row in sheet.iter_rows(values_only=True):
                if any(value is not None for value in row):
                    yield ",".join("" if v is None else str(v) for v in row)
    finally:
        book.close()


def _plain(path: Path) -> Iterator[str]:
    """Lines of a text file, read as a stream: a 50 MB CSV is never in memory at once."""
    with path.open("rb") as raw:
        bom = raw.read(2)
    encoding = "utf-16" if bom in (b"\xff\xfe", b"\xfe\xff") else "utf-8"
    with path.open(encoding=encoding, errors="replace", newline="") as file:
        for line in file:
            yield line.rstrip("\r\n")
