"""The web chat WebSocket protocol, spoken by a plain client (the browser test covers the page)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.fakes.openai_server import FakeOpenAI
from tests.support.gateway import GatewayFactory, RunningGateway


async def converse(ws: aiohttp.ClientWebSocketResponse, text: str) -> list[dict[str, Any]]:
    await ws.send_json({"type": "message", "id": "m1", "text": text})
    frames = []
    while True:
        frame = await ws.receive_json(timeout=10)
        frames.append(frame)
        if frame["type"] in ("done", "error"):
            return frames


async def hello(
    gw: RunningGateway,
    http: aiohttp.ClientSession,
    session: str | None = None,
    key: str | None = None,
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await http.ws_connect(f"{gw.url.replace('http', 'ws')}/ws")
    await ws.send_json({"type": "hello", "session_id": session, "key": key})
    return ws, await ws.receive_json(timeout=10)


async def test_stream_history_and_new_conversation(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory()
    async with aiohttp.ClientSession() as http:
        ws, ready = await hello(gw, http)
        assert ready["type"] == "ready" and ready["history"] == [] and ready["problems"] == []
        assert ready["model"] == "fake (fake-model)" and ready["title"] == "ai-bot"
        session = ready["session_id"]
        frames = await converse(ws, "你好，世界")
        assert frames[0] == {"type": "start", "id": "m1"}
        assert len([f for f in frames if f["type"] == "delta"]) > 1
        assert frames[-1]["text"] == "echo: 你好，世界"
        await ws.close()

        ws, ready = await hello(gw, http, session=session)  # a page reload
        assert ready["session_id"] == session
        assert ready["history"] == [
            {"role": "user", "content": "你好，世界", "request_id": frames[-1]["request_id"]},
            {
                "role": "assistant",
                "content": "echo: 你好，世界",
                "request_id": frames[-1]["request_id"],
            },
        ]
        await ws.send_json({"type": "new"})
        fresh = await ws.receive_json(timeout=10)
        assert fresh["session_id"] != session and fresh["history"] == []
        await converse(ws, "again")
        assert len(fake_llm.requests[-1].json["messages"]) == 1
        await ws.close()


async def test_the_old_top_level_webchat_section_still_works(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory({"webchat": {"require_key": True, "title": "Old place"}})
    async with aiohttp.ClientSession() as http:
        ws, frame = await hello(gw, http)
        assert frame["code"] == "unauthorized"
        await ws.close()
        ws, frame = await hello(gw, http, key=gw.api_key)
        assert frame["type"] == "ready" and frame["title"] == "Old place"
        await ws.close()
    assert gw.log().count("`webchat:` section is now `channels.webchat:`") == 1


async def test_key_required_when_exposed(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory({"channels": {"webchat": {"require_key": True}}})
    async with aiohttp.ClientSession() as http:
        for key in (None, "wrong"):
            ws, frame = await hello(gw, http, key=key)
            assert frame["code"] == "unauthorized"
            await ws.receive(timeout=5)
            assert ws.close_code == 4401
        ws, frame = await hello(gw, http, key=gw.api_key)
        assert frame["type"] == "ready"
        assert (await converse(ws, "let me in"))[-1]["text"] == "echo: let me in"
        await ws.close()


async def test_cross_site_pages_are_refused(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory()
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await http.ws_connect(
                f"{gw.url.replace('http', 'ws')}/ws", headers={"Origin": "https://evil.example"}
            )


async def test_missing_model_is_explained(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory(
        {
            "models": {
                "default": "ds",
                "providers": {"ds": {"preset": "deepseek", "api_key": "${DEEPSEEK_API_KEY}"}},
            }
        },
        env={"DEEPSEEK_API_KEY": ""},
    )
    async with aiohttp.ClientSession() as http:
        ws, ready = await hello(gw, http)
        # The page's banner speaks the reader's language (zh-CN without Accept-Language)
        assert ready["problems"] == [
            "模型服务“ds”缺少 API 密钥：请在 .env 或环境变量中设置 DEEPSEEK_API_KEY"
        ]
        frames = await converse(ws, "hi")
        assert frames[-1]["type"] == "error"
        # The conversation gets a short notice; the banner (problems) says what to fix.
        assert frames[-1]["message"].startswith("模型暂时不可用，请稍后再试")
        assert "DEEPSEEK_API_KEY" in frames[-1]["problems"][0]
        await ws.close()
    async with aiohttp.ClientSession(headers={"Accept-Language": "en"}) as http:
        ws, ready = await hello(gw, http)
        assert ready["problems"] == [
            "model provider 'ds' has no API key: set DEEPSEEK_API_KEY in .env or the environment"
        ]
        await ws.close()
        async with http.get(f"{gw.url}/readyz") as response:
            assert response.status == 503
            report = await response.json()
        assert report["ready"] is False and report["store"]["ok"] is True
        assert "DEEPSEEK_API_KEY" in report["provider"]["problems"][0]


@pytest.mark.parametrize(
    ("language", "expired", "empty"),
    [
        (None, "附件已过期或找不到，请重新上传", "消息是空的"),
        ("en", "attachment expired or unknown: upload it again", "empty message"),
    ],
)
async def test_refused_frames_speak_the_readers_language(
    gateway_factory: GatewayFactory, language: str | None, expired: str, empty: str
) -> None:
    gw = await gateway_factory()
    headers = {"Accept-Language": language} if language else {}
    async with aiohttp.ClientSession(headers=headers) as http:
        ws, _ = await hello(gw, http)
        await ws.send_json({"type": "message", "id": "a", "text": "hi", "attachments": ["nope"]})
        assert (await ws.receive_json(timeout=10))["message"] == expired
        await ws.send_json({"type": "message", "id": "b", "text": "  "})
        assert (await ws.receive_json(timeout=10))["message"] == empty
        await ws.close()


async def test_a_paste_far_over_the_limit_is_refused_in_the_pages_language(
    gateway_factory: GatewayFactory,
) -> None:
    """A frame past what any message under `server.max_message_chars` can take is refused
    before the text is read, in the page's language (it said "frame too large" in English)."""
    gw = await gateway_factory({"server": {"max_message_chars": 100}})
    url = f"{gw.url.replace('http', 'ws')}/ws"
    for language, words in (("zh-CN,zh;q=0.9", "消息太大，无法发送。"), ("en", "too large")):
        async with aiohttp.ClientSession(headers={"Accept-Language": language}) as http:
            ws = await http.ws_connect(url)
            await ws.send_json({"type": "hello"})
            assert (await ws.receive_json(timeout=10))["type"] == "ready"
            await ws.send_json({"type": "message", "id": "m1", "text": "长" * 2000})
            frame = await ws.receive_json(timeout=10)
            assert frame["type"] == "error" and frame["code"] == "bad_request", frame
            assert words in frame["message"], frame
            await ws.close()
