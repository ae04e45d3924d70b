"""Pictures (alone and inside a rich-text post), voice and files from Feishu, through the real
gateway process: the fake open platform serves the message-resource API behind the tenant
token; the fake model reports the parts it got and transcribes voice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.fakes.feishu_api import FakeFeishu
from tests.fakes.openai_server import FakeOpenAI
from tests.support import media_files
from tests.support.gateway import GatewayFactory
from tests.support.net import free_port
from tests.support.waiting import wait_until

DM = "oc_media_dm"
ENCRYPT_KEY = "media-encrypt-key"
VERIFY = "media-vtoken"
APP_SECRET = "media-app-secret"


@pytest.fixture
async def lark() -> AsyncIterator[FakeFeishu]:
    async with FakeFeishu(
        encrypt_key=ENCRYPT_KEY, verification_token=VERIFY, app_secret=APP_SECRET
    ) as fake:
        yield fake


def media_config(lark: FakeFeishu) -> dict[str, Any]:
    port = free_port()
    lark.webhook_url = f"http://127.0.0.1:{port}/feishu/webhook"
    channel = {
        "app_id": lark.app_id,
        "app_secret": APP_SECRET,
        "verification_token": VERIFY,
        "encrypt_key": ENCRYPT_KEY,
        "api_base": lark.base_url,
    }
    return {
        "server": {"port": port},
        "channels": {"feishu": channel},
        "models": {
            "providers": {"fake": {"vision": True}},
            "stt": {"provider": "fake", "model": "whisper-1"},
        },
    }


def asked(fake: FakeOpenAI) -> str:
    content = fake.chat_requests()[-1]["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if p["type"] == "text")


async def test_image_post_voice_and_file(
    gateway_factory: GatewayFactory, lark: FakeFeishu, fake_llm: FakeOpenAI
) -> None:
    await gateway_factory(media_config(lark))
    key = lark.files.image(media_files.png())
    lark.user_message(DM, message_type="image", content={"image_key": key})
    await lark.wait_texts(DM, 1, timeout=20)
    assert fake_llm.content_parts()[-1] == ["text", "image_url"]

    # A rich-text post: its text is the question, its two pictures go in one request.
    first, second = lark.files.image(media_files.png()), lark.files.image(media_files.png(8, 8))
    post = {
        "title": "",
        "content": [
            [{"tag": "text", "text": "Which of these is bigger?"}],
            [{"tag": "img", "image_key": first}, {"tag": "img", "image_key": second}],
        ],
    }
    lark.user_message(DM, message_type="post", content=post)
    await lark.wait_texts(DM, 2, timeout=20)
    assert fake_llm.content_parts()[-1] == ["text", "image_url", "image_url"]
    assert "Which of these is bigger?" in asked(fake_llm)

    voice = lark.files.file(media_files.ogg_opus(), "voice.opus", "audio/ogg")
    lark.user_message(DM, message_type="audio", content={"file_key": voice, "duration": 2000})
    texts = await lark.wait_texts(DM, 3, timeout=20)
    assert fake_llm.transcript in texts[-1] and asked(fake_llm) == fake_llm.transcript

    pdf = lark.files.file(media_files.pdf("Invoice total: 1234 yuan."), "invoice.pdf")
    lark.user_message(
        DM, message_type="file", content={"file_key": pdf, "file_name": "invoice.pdf"}
    )
    await lark.wait_texts(DM, 4, timeout=20)
    assert "invoice.pdf" in asked(fake_llm) and "1234 yuan" in asked(fake_llm)
    assert len(lark.files.downloads) == 5


async def test_a_resent_media_message_is_answered_once(
    gateway_factory: GatewayFactory, lark: FakeFeishu, fake_llm: FakeOpenAI
) -> None:
    await gateway_factory(media_config(lark))
    key = lark.files.image(media_files.png())
    envelope = lark.user_message(DM, message_type="image", content={"image_key": key})
    lark.resend(envelope)  # Feishu pushes the same message again under a new event id
    await lark.wait_texts(DM, 1, timeout=20)
    await asyncio.sleep(1.5)
    assert len(lark.texts(DM)) == 1 and len(fake_llm.chat_requests()) == 1


async def test_sigkill_before_the_download_loses_nothing(
    gateway_factory: GatewayFactory, lark: FakeFeishu, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(media_config(lark))
    lark.files.hang = 60.0  # received and committed; the download never finishes
    pdf = lark.files.file(media_files.pdf("Invoice total: 99 yuan."), "bill.pdf")
    lark.user_message(DM, message_type="file", content={"file_key": pdf, "file_name": "bill.pdf"})
    assert await wait_until(lambda: pdf in lark.files.requested, timeout=30)
    await gw.kill()
    lark.files.hang = 0.0
    await gw.start()
    await lark.wait_texts(DM, 1, timeout=30)
    assert "bill.pdf" in asked(fake_llm) and "99 yuan" in asked(fake_llm)
    lark.user_message(DM, "thanks")  # answered after the file, which is not answered again
    texts = await lark.wait_texts(DM, 2, timeout=30)
    assert texts[-1] == "echo: thanks" and len(fake_llm.chat_requests()) == 2
