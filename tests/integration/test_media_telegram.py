"""Pictures, voice and files from Telegram, through the real gateway process: the fake Bot API
serves getFile and the file endpoint, the fake model reports the parts it got and transcribes
voice. Duplicate deliveries and a SIGKILL before the download each end in one answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.telegram_api import FakeTelegram, Hang
from tests.support import media_files
from tests.support.gateway import GatewayFactory, rows
from tests.support.waiting import wait_until

TOKEN = "123456:TEST-TOKEN"


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN, username="gw_test_bot") as fake:
        yield fake


def config(tg: FakeTelegram) -> dict[str, Any]:
    return {
        "channels": {"telegram": {"bot_token": TOKEN, "api_base": tg.base_url, "poll_timeout": 1}},
        "models": {
            "providers": {"fake": {"vision": True}},
            "stt": {"provider": "fake", "model": "whisper-1"},
        },
        "outbox": {"backoff_base": "100ms", "backoff_max": "1s"},
    }


def user_text(fake: FakeOpenAI) -> str:
    content = fake.chat_requests()[-1]["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p["type"] == "text")


async def test_photo_voice_and_pdf_are_answered(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(config(tg))
    png = media_files.png()
    tg.user_message(42, "What is in this picture?", media=tg.files.photo(png))
    (answer,) = await tg.wait_sent(1, chat_id=42, timeout=20)
    assert answer["text"].startswith("echo: ")
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]
    assert "What is in this picture?" in user_text(fake_llm)
    assert tg.files.downloads == ["photos/file_2.jpg"]  # the largest size, not the thumbnail

    tg.user_message(42, "", media=tg.files.voice(media_files.ogg_opus()))
    await tg.wait_sent(2, chat_id=42, timeout=20)
    assert fake_llm.transcriptions[-1][0] == "voice.ogg"
    assert user_text(fake_llm).endswith(fake_llm.transcript)
    assert tg.sent_to(42)[-1]["text"].startswith(f"🎤 “{fake_llm.transcript}”")

    pdf = media_files.pdf("The contract ends on 31 March.")
    tg.user_message(
        42, "When does it end?", media=tg.files.document(pdf, "contract.pdf", "application/pdf")
    )
    await tg.wait_sent(3, chat_id=42, timeout=20)
    assert "contract.pdf" in user_text(fake_llm) and "31 March" in user_text(fake_llm)
    assert len(rows(gw, "SELECT id FROM media")) == 3


async def test_refusals_reach_the_user(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    await gateway_factory(config(tg))
    before = len(fake_llm.chat_requests())
    # Announced over the limit: refused without a download.
    huge = tg.files.document(b"x", "big.zip", "application/zip", size=25_000_000)
    tg.user_message(42, "", media=huge)
    (refusal,) = await tg.wait_sent(1, chat_id=42, timeout=20)
    assert "20 MB" in refusal["text"] and not tg.files.downloads
    tg.user_message(42, "", media=tg.files.document(media_files.fake_png(), "x.png", "image/png"))
    assert "PNG" in (await tg.wait_sent(2, chat_id=42, timeout=20))[-1]["text"]
    assert len(fake_llm.chat_requests()) == before


async def test_duplicate_delivery_and_sigkill_before_download_answer_once(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(config(tg))
    update = tg.user_message(42, "first", media=tg.files.photo(media_files.png()))
    tg.push_update(update)  # Telegram delivers the same update again
    await tg.wait_sent(1, chat_id=42, timeout=20)
    await asyncio.sleep(1.5)
    assert len(tg.sent_to(42)) == 1 and len(fake_llm.chat_requests()) == 1

    tg.script("getFile", Hang(30.0))  # received and committed; the download never finishes
    tg.user_message(42, "second", media=tg.files.photo(media_files.png(color=(0, 0, 255))))
    assert await wait_until(lambda: len(tg.calls("getFile")) >= 2, timeout=20)
    await gw.kill()
    await gw.start()
    await tg.wait_sent(2, chat_id=42, timeout=30)
    await asyncio.sleep(1.5)
    assert len(tg.sent_to(42)) == 2 and len(fake_llm.chat_requests()) == 2
    assert "second" in user_text(fake_llm)
