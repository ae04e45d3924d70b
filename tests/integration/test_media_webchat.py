"""The web page's attachments: `POST /web/upload` (multipart, same origin) answers a token the
chat frame names; the picture reaches the model, the voice is transcribed, a PDF's text is
read. A token is good only for the session that uploaded it, and a cross-site page cannot
upload at all. (The page holds its connection: a retry is the caller's, there is no inbox to
deduplicate or to survive a SIGKILL; those promises are the platform channels'.)"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.fakes.openai_server import FakeOpenAI
from tests.support import media_files
from tests.support.gateway import GatewayFactory, RunningGateway

SEEING = {
    "models": {
        "providers": {"fake": {"vision": True}},
        "stt": {"provider": "fake", "model": "whisper-1"},
    }
}


async def upload(
    gw: RunningGateway,
    http: aiohttp.ClientSession,
    session: str,
    name: str,
    data: bytes,
    mime: str,
    origin: str | None = None,
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type=mime)
    headers = {"Origin": origin} if origin else {}
    async with http.post(
        f"{gw.url}/web/upload", params={"session_id": session}, data=form, headers=headers
    ) as response:
        return response.status, await response.json()


async def say(ws: aiohttp.ClientWebSocketResponse, text: str, tokens: list[str]) -> dict[str, Any]:
    await ws.send_json({"type": "message", "id": "m", "text": text, "attachments": tokens})
    while True:
        frame: dict[str, Any] = await ws.receive_json(timeout=30)
        if frame["type"] in ("done", "error"):
            return frame


async def test_picture_voice_and_pdf_from_the_page(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(SEEING)
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{gw.url.replace('http', 'ws')}/ws")
        await ws.send_json({"type": "hello", "session_id": None, "key": None})
        session = (await ws.receive_json(timeout=10))["session_id"]

        status, picture = await upload(
            gw, http, session, "shot.png", media_files.png(), "image/png"
        )
        assert status == 200 and picture["kind"] == "image", picture
        done = await say(ws, "what is this?", [picture["token"]])
        assert done["type"] == "done", done
        assert fake_llm.content_parts()[-1] == ["text", "image_url"]
        # A token is used once.
        assert (await say(ws, "again", [picture["token"]]))["type"] == "error"

        _, voice = await upload(gw, http, session, "voice.webm", media_files.wav(), "audio/webm")
        done = await say(ws, "", [voice["token"]])
        assert done["text"].startswith(f"🎤 “{fake_llm.transcript}”")

        pdf = media_files.pdf("The lease ends on 30 June.")
        _, document = await upload(gw, http, session, "lease.pdf", pdf, "application/pdf")
        assert document["kind"] == "file", document
        done = await say(ws, "When does it end?", [document["token"]])
        assert done["type"] == "done", done
        asked = fake_llm.chat_requests()[-1]["messages"][-1]["content"]
        assert "lease.pdf" in asked and "30 June" in asked and "When does it end?" in asked

        # Another session's token is refused; so is an upload from another site.
        _, stranger = await upload(
            gw, http, "someone-else-123", "a.png", media_files.png(), "image/png"
        )
        assert (await say(ws, "look", [stranger["token"]]))["type"] == "error"
        status, _ = await upload(
            gw,
            http,
            session,
            "a.png",
            media_files.png(),
            "image/png",
            origin="https://evil.example",
        )
        assert status == 403
        await ws.close()
