"""The media room's pieces on real files: the blob store, type sniffing, text extraction with
its budget, picture checks, file names."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, cast

import pytest

from aibot.config import MediaConfig
from aibot.core.media import MediaRefused
from aibot.core.media_replies import refusal_text
from aibot.core.messages import Inbound, TurnRecord
from aibot.core.pipeline import TurnContext
from aibot.core.sessions import SessionState, cached_turn
from aibot.media.blobs import LocalBlobStore
from aibot.media.extract import extract
from aibot.media.images import prepare_image
from aibot.media.intake import Intake, safe_name
from aibot.media.stage import IMAGE_MARK, MediaStage, VisionChoice
from aibot.ops.metrics import Metrics
from tests.support import media_files


async def test_blobs_are_private_content_named_and_bounded(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "media", max_bytes=1000)
    store.prepare()
    async with store.incoming() as sink:
        await sink.write(b"hello ")
        await sink.write(b"world")
    path = store.path(sink.digest)
    assert path.read_bytes() == b"hello world" and path.name == sink.digest
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(MediaRefused) as refused:
        async with store.incoming() as sink:
            await sink.write(b"x" * 1001)
    assert refused.value.reason == "too_big" and "1000" in refusal_text(refused.value, "en")
    assert not list((tmp_path / "media").glob("*.part"))
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")
    os.utime(path, (0, 0))
    assert store.purge(keep_days=1) == 1 and not path.exists()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_long_files_keep_their_beginning_within_the_budget(tmp_path: Path) -> None:
    lines = "\n".join(f"row {i}, value {i * 3}" for i in range(20_000)).encode()
    found = extract(write(tmp_path, "big.csv", lines), budget_tokens=500)
    assert found.cut and found.text.startswith("row 0, value 0")
    assert len(found.text) < 2500
    short = extract(write(tmp_path, "s.md", "# Title\n中文内容".encode()), budget_tokens=500)
    assert not short.cut and "中文内容" in short.text


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bomb.docx", media_files.zip_bomb_docx(), "zip_bomb"),
        ("broken.pdf", media_files.broken_pdf(), "malformed"),
        ("blob.bin", bytes(range(256)) * 10, "unsupported_file"),
    ],
)
def test_hostile_files_are_refused(tmp_path: Path, name: str, data: bytes, reason: str) -> None:
    with pytest.raises(MediaRefused) as refused:
        extract(write(tmp_path, name, data), budget_tokens=500)
    assert refused.value.reason == reason


def test_office_files(tmp_path: Path) -> None:
    docx = media_files.docx("Intro", table=[["name", "qty"], ["apples", "3"]])
    assert "apples | 3" in extract(write(tmp_path, "a.docx", docx), 500).text
    xlsx = media_files.xlsx([["region", "sales"], ["east", 12]])
    assert "east,12" in extract(write(tmp_path, "a.xlsx", xlsx), 500).text


def test_pictures_are_proven_and_sized(tmp_path: Path) -> None:
    mime, data = prepare_image(write(tmp_path, "a.png", media_files.png()))
    assert mime == "image/png" and data == media_files.png()
    mime, data = prepare_image(write(tmp_path, "b.png", media_files.png(4000, 3000)))
    assert mime == "image/jpeg" and len(data) < 4 * 1024 * 1024
    for hostile in (media_files.fake_png(), b"<svg xmlns='http://www.w3.org/2000/svg'/>"):
        with pytest.raises(MediaRefused):
            prepare_image(write(tmp_path, "c.png", hostile))


def test_file_names_are_sanitised() -> None:
    assert safe_name("../../etc/passwd", "file") == "passwd"
    assert safe_name("a\x00b\u202ec.pdf", "file") == "abc.pdf"
    assert safe_name(None, "image") == "image"


class Ledger:
    """The media rows, reduced to recording which turns' pictures were asked for."""

    def __init__(self) -> None:
        self.asked: list[list[str]] = []

    def record(self, **row: Any) -> Any:
        raise AssertionError("a follow-up stores no attachment")

    async def count_since(self, user_id: str, since: float) -> int:
        return 0

    async def for_requests(self, session_key: str, request_ids: list[str]) -> list[Any]:
        self.asked.append(request_ids)
        return []


async def test_follow_ups_read_only_the_pictures_the_context_can_keep() -> None:
    ledger = Ledger()
    stage = MediaStage(
        MediaConfig(),
        cast(Intake, None),
        ledger,
        cast(LocalBlobStore, None),
        VisionChoice(lambda provider: True, None, lambda: "fake"),
        Metrics(),
        max_turns=2,
    )
    turns = [
        cached_turn(turn)
        for n in range(6)
        for turn in (
            TurnRecord("user", f"{IMAGE_MARK}p{n}.png]", float(n), request_id=f"r{n}"),
            TurnRecord("assistant", "a picture", float(n)),
        )
    ]

    async def model(ctx: TurnContext) -> None:
        return None

    inbound = Inbound("telegram", "s", "7", "and the colours?", "r9", 10.0)
    ctx = TurnContext(inbound, 10.0, session=SessionState("s", turns=turns))
    await stage(ctx, model)
    assert ledger.asked == [["r3", "r4", "r5"]]  # not every picture of the conversation
    ctx.max_turns = 0  # a route that keeps no history
    await stage(ctx, model)
    assert len(ledger.asked) == 1
