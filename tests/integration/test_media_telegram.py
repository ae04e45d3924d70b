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


COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


def send_album(tg: FakeTelegram, chat_id: int, caption: str, group: str) -> list[dict[str, Any]]:
    """Three pictures sent together: one update each, the same media_group_id, the caption on
    the first, all queued before the gateway's next getUpdates."""
    return [
        tg.user_message(
            chat_id,
            caption if number == 0 else "",
            media={**tg.files.photo(media_files.png(color=colour)), "media_group_id": group},
        )
        for number, colour in enumerate(COLOURS)
    ]


def with_window(tg: FakeTelegram, window: str) -> dict[str, Any]:
    return {**config(tg), "media": {"album_window": window}}


async def test_an_album_is_one_question_and_one_answer(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    await gateway_factory(with_window(tg, "3s"))
    updates = send_album(tg, 42, "Which one is red?", "13570000000000001")
    assert len(await tg.wait_sent(1, chat_id=42, timeout=30)) == 1
    assert len(fake_llm.chat_requests()) == 1
    assert fake_llm.content_parts()[-1] == ["text", "image_url", "image_url", "image_url"]
    assert "Which one is red?" in user_text(fake_llm)
    assert len(tg.files.downloads) == 3
    # Telegram delivers the album again, then the user says more: the album is not answered
    # twice (a re-delivery would be held and answered before the next message).
    for update in updates:
        tg.push_update(update)
    tg.user_message(42, "thanks")
    sent = await tg.wait_sent(2, chat_id=42, timeout=30)
    assert sent[-1]["text"] == "echo: thanks" and len(fake_llm.chat_requests()) == 2

    # In a group, the album whose caption mentions the bot is read whole; another is not.
    send_album(tg, -1001, "which one is green?", "13570000000000002")
    send_album(tg, -1001, "@gw_test_bot which one is blue?", "13570000000000003")
    assert len(await tg.wait_sent(1, chat_id=-1001, timeout=30)) == 1
    assert fake_llm.content_parts()[-1] == ["text", "image_url", "image_url", "image_url"]
    assert "which one is blue?" in user_text(fake_llm) and "green" not in user_text(fake_llm)
    assert len(fake_llm.chat_requests()) == 3


async def test_a_message_after_an_album_does_not_overtake_it(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    """The window is long; the next message ends the album at once, and is answered after it."""
    await gateway_factory(with_window(tg, "60s"))
    send_album(tg, 42, "", "13570000000000004")
    tg.user_message(42, "and the second one?")
    sent = await tg.wait_sent(2, chat_id=42, timeout=30)
    assert fake_llm.content_parts(0)[-1] == ["text", "image_url", "image_url", "image_url"]
    # Pictures without words get the default question, in the sender's language only.
    asked = fake_llm.chat_requests()[0]["messages"][-1]["content"][0]["text"]
    assert asked.endswith("\n\nDescribe the picture, or answer what it asks.")
    assert "请" not in asked
    assert sent[-1]["text"].endswith("and the second one?")


async def test_sigkill_while_an_album_is_held_loses_nothing_and_answers_once(
    gateway_factory: GatewayFactory, tg: FakeTelegram, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(with_window(tg, "60s"))
    updates = send_album(tg, 42, "Compare them", "13570000000000005")
    pending = "SELECT id FROM inbox WHERE status = 'pending'"
    assert await wait_until(lambda: len(rows(gw, pending)) == 3, timeout=30)
    await gw.kill()  # every piece committed, none answered: the album was being held
    assert fake_llm.chat_requests() == [] and tg.sent_to(42) == []
    gw.config["media"]["album_window"] = "1s"
    await gw.start()
    for update in updates:
        tg.push_update(update)  # delivered again after the restart: dropped as duplicates
    assert len(await tg.wait_sent(1, chat_id=42, timeout=30)) == 1
    assert fake_llm.content_parts()[-1] == ["text", "image_url", "image_url", "image_url"]
    assert "Compare them" in user_text(fake_llm)
    tg.user_message(42, "thanks")
    sent = await tg.wait_sent(2, chat_id=42, timeout=30)
    assert sent[-1]["text"] == "echo: thanks" and len(fake_llm.chat_requests()) == 2
    assert rows(gw, pending) == []
