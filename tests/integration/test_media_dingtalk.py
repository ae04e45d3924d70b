"""Pictures (alone and in rich text), voice and files sent to a DingTalk robot (Stream mode),
through the real gateway process: the fake resolves a `downloadCode` into a short-lived link
with the access token; DingTalk's own `recognition` is the voice's transcript."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.dingtalk_api import CLIENT_ID, CLIENT_SECRET, FakeDingtalk
from tests.fakes.openai_server import FakeOpenAI
from tests.support import media_files
from tests.support.gateway import GatewayFactory
from tests.support.waiting import wait_until


@pytest.fixture
async def ding() -> AsyncIterator[FakeDingtalk]:
    async with FakeDingtalk() as fake:
        yield fake


def robot(ding: FakeDingtalk) -> dict[str, Any]:
    return {
        "channels": {
            "dingtalk": {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "api_base": ding.base_url,
            }
        },
        "models": {
            "providers": {"fake": {"vision": True}},
            "stt": {"provider": "fake", "model": "whisper-1"},
        },
    }


def question(fake: FakeOpenAI) -> str:
    content = fake.chat_requests()[-1]["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p["type"] == "text")


def media_message(ding: FakeDingtalk, media: dict[str, Any]) -> dict[str, Any]:
    data = ding.message("")
    data.pop("text")
    return {**data, **media}


async def send(ding: FakeDingtalk, media: dict[str, Any], count: int) -> str:
    ding.push(media_message(ding, media))
    await ding.wait_for(lambda: len(ding.sent) >= count, timeout=20)
    return ding.sent[-1].text


async def test_picture_rich_text_voice_and_file(
    gateway_factory: GatewayFactory, ding: FakeDingtalk, fake_llm: FakeOpenAI
) -> None:
    await gateway_factory(robot(ding))
    await ding.wait_for(lambda: len(ding.live) == 1, timeout=20)

    picture = ding.files.add(media_files.png(), "image/png")
    assert (await send(ding, ding.files.picture(picture), 1)).startswith("echo: ")
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]
    # A picture alone gets the default question, in the gateway's default language only.
    assert question(fake_llm).endswith("\n\n请描述这张图片；如果图片里有问题，请回答。")
    assert "Describe" not in question(fake_llm)

    other = ding.files.add(media_files.png(16, 16), "image/png")
    await send(ding, ding.files.rich_text("What does this chart say?", other), 2)
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]
    assert "What does this chart say?" in question(fake_llm)

    # DingTalk's own recognition: answered as if typed, nothing downloaded or transcribed.
    voice = ding.files.add(media_files.wav(), "audio/wav")
    answer = await send(ding, ding.files.audio(voice, recognition="帮我总结今天的会议"), 3)
    assert "帮我总结今天的会议" in answer and question(fake_llm) == "帮我总结今天的会议"
    assert voice not in ding.files.resolved and fake_llm.transcriptions == []
    # Without it, the voice is downloaded and sent to models.stt.
    silent = ding.files.add(media_files.wav(), "audio/wav")
    await send(ding, ding.files.audio(silent), 4)
    assert question(fake_llm) == fake_llm.transcript

    docx = media_files.docx("Meeting notes", table=[["owner", "task"], ["Li", "ship media"]])
    code = ding.files.add(docx, "application/octet-stream")
    await send(ding, ding.files.file(code, "notes.docx"), 5)
    assert "notes.docx" in question(fake_llm) and "Li | ship media" in question(fake_llm)
    pdf = ding.files.add(media_files.pdf("Budget: 5000 yuan."), "application/octet-stream")
    await send(ding, ding.files.file(pdf, "budget.pdf"), 6)
    assert "budget.pdf" in question(fake_llm) and "5000 yuan" in question(fake_llm)
    assert ding.files.downloads == [picture, other, silent, code, pdf]


async def test_a_redelivered_picture_and_a_sigkill_before_a_download_answer_once(
    gateway_factory: GatewayFactory, ding: FakeDingtalk, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(robot(ding))
    await ding.wait_for(lambda: len(ding.live) == 1, timeout=20)
    data = media_message(ding, ding.files.picture(ding.files.add(media_files.png(), "image/png")))
    ding.push(data)
    ding.push(data)  # DingTalk delivers the same message again (a new frame, same msgId)
    await ding.wait_for(lambda: len(ding.sent) >= 1, timeout=20)

    ding.files.hang = 60.0  # received and committed; the download API never answers
    other = ding.files.add(media_files.png(8, 8, (0, 0, 200)), "image/png")
    ding.push(media_message(ding, ding.files.picture(other)))
    assert await wait_until(lambda: other in ding.files.requested, timeout=30)
    connections = len(ding.connections)
    await gw.kill()
    ding.files.hang = 0.0
    await gw.start()
    await ding.wait_for(lambda: len(ding.sent) >= 2, timeout=30)
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]
    await ding.wait_for(lambda: len(ding.connections) > connections and bool(ding.live), timeout=30)
    ding.say("thanks")  # answered after the picture, which is not answered again
    await ding.wait_for(lambda: len(ding.sent) >= 3, timeout=30)
    assert ding.sent[-1].text == "echo: thanks" and len(fake_llm.chat_requests()) == 3
