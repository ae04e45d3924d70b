"""Pictures and voice from WeCom (企业微信) through the real gateway process: media/get on the
fake WeCom API with the access token, AMR voice converted by ffmpeg before transcription, and
WeCom's own `Recognition` used as the transcript when it comes. WeCom does not deliver files
to self-built apps (its callback types are text, image, voice, video, location and link)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.wecom_api import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, FakeWecom
from tests.support import media_files
from tests.support.gateway import GatewayFactory
from tests.support.waiting import wait_until


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    async with FakeWecom() as fake:
        yield fake


def with_media(wecom: FakeWecom) -> dict[str, Any]:
    app = {
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "secret": SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "api_base": wecom.base_url,
    }
    return {
        "channels": {"wecom": app},
        "models": {
            "providers": {"fake": {"vision": True}},
            "stt": {"provider": "fake", "model": "whisper-1"},
        },
    }


async def test_picture_and_voice(
    gateway_factory: GatewayFactory, wecom: FakeWecom, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(with_media(wecom))
    url = f"{gw.url}/wecom/webhook"
    picture = wecom.add_media(media_files.png(), "image/png", "a.png")
    await wecom.push(url, wecom.image_xml("zhangsan", media_id=picture))
    (answer,) = await wecom.wait_sent(1, "zhangsan", timeout=20)
    assert answer.content.startswith("echo: ")
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]
    assert wecom.media_fetches == [picture]

    # AMR 8 kHz as WeCom delivers it: ffmpeg makes a WAV the speech service takes.
    voice = wecom.add_media(media_files.amr(), "audio/amr", "voice.amr")
    await wecom.push(url, wecom.voice_xml("zhangsan", voice))
    sent = await wecom.wait_sent(2, "zhangsan", timeout=20)
    name, data = fake_llm.transcriptions[-1]
    assert name == "voice.wav" and data[:4] == b"RIFF"
    assert fake_llm.transcript in sent[-1].content

    # With WeCom's own recognition the voice is not downloaded nor sent to the service.
    before = len(fake_llm.transcriptions)
    other = wecom.add_media(media_files.amr(), "audio/amr", "voice.amr")
    await wecom.push(url, wecom.voice_xml("lisi", other, recognition="明天上海天气怎么样"))
    (reply,) = await wecom.wait_sent(1, "lisi", timeout=20)
    assert "明天上海天气怎么样" in reply.content
    assert len(fake_llm.transcriptions) == before and other not in wecom.media_fetches


async def test_an_expired_media_id_is_a_clear_reply(
    gateway_factory: GatewayFactory, wecom: FakeWecom, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(with_media(wecom))
    await wecom.push(f"{gw.url}/wecom/webhook", wecom.image_xml("wangwu", media_id="gone"))
    (reply,) = await wecom.wait_sent(1, "wangwu", timeout=20)
    assert "重新发送" in reply.content and fake_llm.chat_requests() == []


async def test_a_redelivered_picture_and_a_sigkill_before_a_download_answer_once(
    gateway_factory: GatewayFactory, wecom: FakeWecom, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(with_media(wecom))
    url = f"{gw.url}/wecom/webhook"
    picture = wecom.add_media(media_files.png(), "image/png", "a.png")
    # Our first two 200s are "lost": WeCom delivers the same callback three times.
    await wecom.push(url, wecom.image_xml("wangwu", media_id=picture), lost=2)
    await wecom.wait_sent(1, "wangwu", timeout=20)

    wecom.media_hang = 60.0  # received and committed; media/get never answers
    other = wecom.add_media(media_files.png(8, 8, (0, 0, 200)), "image/png", "b.png")
    await wecom.push(url, wecom.image_xml("wangwu", media_id=other))
    assert await wait_until(lambda: other in wecom.media_requested, timeout=30)
    await gw.kill()
    wecom.media_hang = 0.0
    await gw.start()
    await wecom.wait_sent(2, "wangwu", timeout=30)
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]
    await wecom.push(url, wecom.text_xml("wangwu", "thanks"))
    sent = await wecom.wait_sent(3, "wangwu", timeout=30)
    assert sent[-1].content == "echo: thanks" and len(fake_llm.chat_requests()) == 3
