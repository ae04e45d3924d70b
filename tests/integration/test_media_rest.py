"""Pictures, voice and files through `POST /api/v1/chat` (base64 JSON and multipart), against
the real gateway process, the fake model (which reports the content parts it got) and its
speech-to-text endpoint. Files are real ones made by tests/support/media_files.py."""

from __future__ import annotations

import asyncio
import base64
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import openai
import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.support import media_files
from tests.support.admin_http import Console, create_user
from tests.support.gateway import GatewayFactory, RunningGateway, rows

SEEING = {
    "models": {
        "providers": {"fake": {"vision": True}},
        "stt": {"provider": "fake", "model": "whisper-1"},
    }
}


def attached(data: bytes, name: str, mime: str) -> dict[str, Any]:
    return {"data": base64.b64encode(data).decode(), "name": name, "mime": mime}


def last_user(fake: FakeOpenAI) -> dict[str, Any]:
    users: list[dict[str, Any]] = [
        m for m in fake.chat_requests()[-1]["messages"] if m["role"] == "user"
    ]
    return users[-1]


def user_text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p["type"] == "text")


async def multipart(
    gw: RunningGateway,
    files: list[tuple[str, bytes, str]],
    message: str = "",
    session: str = "m",
    language: str | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = {**gw.headers, **({"Accept-Language": language} if language else {})}
    form = aiohttp.FormData()
    form.add_field("session_id", session)
    form.add_field("message", message)
    for name, data, mime in files:
        form.add_field("file", data, filename=name, content_type=mime)
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{gw.url}/api/v1/chat", headers=headers, data=form) as response,
    ):
        return response.status, await response.json()


async def test_picture_voice_and_pdf_get_answers(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(SEEING)
    png = media_files.png()
    status, body = await gw.chat(
        "What colour is this?", attachments=[attached(png, "a.png", "image/png")]
    )
    assert status == 200, body
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]
    url = last_user(fake_llm)["content"][1]["image_url"]["url"]
    assert base64.b64decode(url.split(",", 1)[1]) == png
    assert "What colour is this?" in user_text(last_user(fake_llm))

    # A follow-up sends the picture again with the turn it came with.
    await gw.chat("and translate any text in it")
    parts = fake_llm.content_parts()
    assert ["text", "image_url"] in parts and parts[-1] == ["text"]

    # Voice: transcribed by models.stt, answered as if typed, the transcript quoted first.
    status, body = await gw.chat(
        "", session="v", attachments=[attached(media_files.wav(), "v.wav", "audio/wav")]
    )
    assert status == 200, body
    assert fake_llm.transcriptions[-1][1][:4] == b"RIFF"
    assert user_text(last_user(fake_llm)) == fake_llm.transcript
    assert body["reply"].startswith(f"🎤 “{fake_llm.transcript}”")

    # A PDF's text reaches the model with a header naming the file.
    pdf = media_files.pdf("Quarterly revenue was 42 million.", "Second table: costs 7 million.")
    status, body = await multipart(gw, [("report.pdf", pdf, "application/pdf")], "Summarise")
    assert status == 200, body
    text = user_text(last_user(fake_llm))
    assert "report.pdf" in text and "42 million" in text and "Summarise" in text
    # The follow-up still has the file's text in the conversation.
    await gw.chat("and what about the second table?", session="m")
    history = [
        user_text(m) for m in fake_llm.chat_requests()[-1]["messages"] if m["role"] == "user"
    ]
    assert any("costs 7 million" in t for t in history[:-1])

    blobs = [Path(p) for p in (gw.workdir / "media").glob("??/*")]
    assert blobs and all(stat.S_IMODE(os.stat(p).st_mode) == 0o600 for p in blobs)
    kinds = {r[0] for r in rows(gw, "SELECT kind FROM media")}
    assert kinds == {"image", "audio", "file"}


async def test_refusals_are_clear_replies(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory({**SEEING, "media": {"max_bytes": 10 * 1024 * 1024}})
    before = len(fake_llm.chat_requests())
    cases = [
        ("bomb.docx", media_files.zip_bomb_docx(), "application/msword", "安全"),
        ("broken.pdf", media_files.broken_pdf(), "application/pdf", "损坏"),
        ("x.png", media_files.fake_png(), "image/png", "有效的 PNG"),
    ]
    for name, data, mime, words in cases:
        status, body = await multipart(gw, [(name, data, mime)], session=name)
        assert status == 200 and words in body["reply"], body
    assert len(fake_llm.chat_requests()) == before  # none of them reached the model

    over = b"a" * (10 * 1024 * 1024 + 20_000)  # over media.max_bytes: refused as it is stored
    status, body = await multipart(gw, [("big.txt", over, "text/plain")])
    assert status == 413 and "10 MB" in body["error"]["message"], body
    big = b"a" * (20 * 1024 * 1024)  # a 20 MB file: over the upload body limit, never read
    status, body = await multipart(gw, [("big.txt", big, "text/plain")])
    assert status == 413 and body["error"]["code"] == "body_too_large", body
    assert not list((gw.workdir / "media").glob("*.part"))
    assert gw.process is not None and gw.process.returncode is None


async def test_daily_media_quota_and_refusals_in_the_callers_language(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory({**SEEING, "media": {"daily_quota": 2}})
    fake = ("x.png", media_files.fake_png(), "image/png")
    status, body = await multipart(gw, [fake], session="en", language="en-US,en;q=0.9")
    assert status == 200, body
    assert body["reply"] == (
        "This picture cannot be read: it is not a valid PNG, JPEG, GIF or WebP image."
    )
    png = ("a.png", media_files.png(), "image/png")
    for number in range(2):
        status, body = await multipart(gw, [png], "look", session=f"q{number}")
        assert status == 200 and body["reply"].startswith("echo: "), body
    before = len(fake_llm.chat_requests())
    status, body = await multipart(gw, [png], "look", session="q2")
    assert body["reply"] == "今天发送的图片和文件已达上限（2 个），请明天再试。", body
    status, body = await multipart(gw, [png], "look", session="q2", language="en")
    assert "today's limit of 2 pictures and files" in body["reply"], body
    assert len(fake_llm.chat_requests()) == before  # refused before any model call
    status, body = await gw.chat("and without a picture?", session="q2")
    assert body["reply"] == "echo: and without a picture?"  # text is not counted


async def test_a_picture_stays_in_the_conversation_for_max_turns(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory({**SEEING, "session": {"max_turns": 2}})

    def pictures() -> int:
        return sum("image_url" in parts for parts in fake_llm.content_parts())

    png = attached(media_files.png(), "sign.png", "image/png")
    await gw.chat("what does this sign say?", session="t", attachments=[png])
    assert pictures() == 1
    await gw.chat("translate it", session="t")
    assert pictures() == 1 and fake_llm.content_parts()[-1] == ["text"]  # sent again
    for question in ("and in French?", "and in German?", "thanks"):
        status, body = await gw.chat(question, session="t")
        assert status == 200, body
    assert pictures() == 0  # its turn left the context, and so did the picture


async def test_no_vision_model_is_one_polite_reply(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory()
    before = len(fake_llm.chat_requests())
    status, body = await gw.chat(
        "hi", attachments=[attached(media_files.png(), "a.png", "image/png")]
    )
    assert status == 200 and "models.vision" in body["reply"]
    assert len(fake_llm.chat_requests()) == before
    status, body = await gw.chat(
        "", session="v", attachments=[attached(media_files.wav(), "v.wav", "audio/wav")]
    )
    assert status == 200 and "models.stt" in body["reply"]


async def test_v1_forwards_parts_untouched_or_refuses_them_as_openai_does(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    blind = {
        "base_url": fake_llm.base_url,
        "api_key": "sk-x",
        "model": "text-only",
        "vision": False,
    }
    gw = await gateway_factory({"models": {"providers": {"blind": blind}}})
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    pdf = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="},
    }
    messages: Any = [{"role": "user", "content": [{"type": "text", "text": "read"}, image, pdf]}]
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=gw.api_key, max_retries=0)
    async with client:
        answer = await client.chat.completions.create(model="fake", messages=messages)
        assert answer.choices[0].message.content == "echo: read[image][file]"
        assert fake_llm.chat_requests()[-1]["messages"] == messages  # forwarded untouched
        before = len(fake_llm.chat_requests())
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="blind", messages=messages)
    error: Any = refused.value.body
    assert error["param"] == "messages[0].content" and "image input" in error["message"]
    assert error["type"] == "invalid_request_error"
    assert len(fake_llm.chat_requests()) == before


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


async def test_rss_stays_flat_while_a_50_mb_file_is_processed(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory({"media": {"max_bytes": 64 * 1024 * 1024}})
    assert gw.process is not None
    pid = gw.process.pid
    await gw.chat("warm up")  # the first turn loads what every turn needs
    baseline = rss_mb(pid)
    row = b"2026-12-05,east,widget,1234.50,some more text to fill the line\n"
    rows_per_mb = (1024 * 1024) // len(row)

    async def body() -> Any:
        for _ in range(50):
            yield row * rows_per_mb

    peak = baseline
    sampling = True

    async def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, rss_mb(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    form = aiohttp.FormData()
    form.add_field("session_id", "big")
    form.add_field("message", "What is the total?")
    form.add_field("file", body(), filename="sales.csv", content_type="text/csv")
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{gw.url}/api/v1/chat", headers=gw.headers, data=form) as response,
    ):
        answer = await response.json()
    sampling = False
    await sampler
    assert response.status == 200, answer
    assert "sales.csv" in user_text(last_user(fake_llm))
    assert "only its beginning" in user_text(last_user(fake_llm))
    print(f"gateway RSS: {baseline:.1f} MB before, {peak:.1f} MB at most during a 50 MB file")
    assert peak - baseline < 30, (baseline, peak)  # 50 MB went through; memory did not


async def test_console_shows_attachments_only_to_signed_in_users(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(SEEING)
    png = media_files.png()
    await gw.chat("see", session="c1", attachments=[attached(png, "<b>x</b>.png", "image/png")])
    await gw.chat(
        "read",
        session="c1",
        attachments=[attached(b"<svg onload=alert(1)>", "a.txt", "text/plain")],
    )
    ids = [r[0] for r in rows(gw, "SELECT id FROM media ORDER BY id")]
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{gw.url}/admin/media/{ids[0]}", allow_redirects=False) as response,
    ):
        assert response.status in (302, 303, 401) and await response.read() != png  # signed out
    await create_user(gw, "viewer1", "viewer")
    async with Console(gw) as console:
        await console.login("viewer1")
        (key,) = {r[0] for r in rows(gw, "SELECT session_key FROM media")}
        status, html = await console.page(f"/admin/conversation?key={quote(key, safe='')}")
        assert status == 200 and f'src="/admin/media/{ids[0]}"' in html
        assert 'alt="b&gt;.png"' in html and "<b>" not in html  # sanitised, then escaped
        async with console.http.get(f"{gw.url}/admin/media/{ids[0]}") as response:
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["Content-Disposition"].startswith("inline;")
            assert await response.read() == png
        async with console.http.get(f"{gw.url}/admin/media/{ids[1]}") as response:
            assert response.headers["Content-Type"] == "application/octet-stream"
            assert response.headers["Content-Disposition"].startswith("attachment;")
            assert "sandbox" in response.headers["Content-Security-Policy"]
