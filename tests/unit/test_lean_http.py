"""The provider's lean HTTP/1.1 pool (`providers/lean_http.py`) over loopback, against a server
that answers byte for byte as scripted: framing, keep-alive and its loss, cut-off and malformed
answers, timeouts, the connection cap, TLS; and a provider behind a proxy still on aiohttp."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from aibot.config import ProviderConfig
from aibot.core.messages import ChatRequest, Message
from aibot.providers import lean_http
from aibot.providers.base import ProviderError
from aibot.providers.openai_compat import OpenAICompatibleProvider
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.raw_http import DATE, RawHttpServer, Reply, answer
from tests.support.tls import loopback_tls

ASK = ChatRequest([Message("user", "hello")])
MOVED = "https://api.example/v1/chat/completions"


def provider(base_url: str, **extra: object) -> OpenAICompatibleProvider:
    settings = {"base_url": base_url, "api_key": "sk-k", "model": "m", "timeout": 5, **extra}
    return OpenAICompatibleProvider("p", ProviderConfig.model_validate(settings))


def sse(*events: bytes) -> bytes:
    return b"".join(b"data: %s\n\n" % event for event in events)


def delta(content: str | None, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": {"content": content} if content else {}, "finish_reason": finish}
    return orjson.dumps({"id": "c", "object": "chat.completion.chunk", "choices": [choice]})


async def failure(p: OpenAICompatibleProvider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await p.chat(ASK)
    return caught.value


async def test_calls_share_one_kept_alive_connection_and_send_what_they_did() -> None:
    async with RawHttpServer() as server:
        p = provider(server.base_url, extra_headers={"X-Team": "a"})
        for _ in range(4):
            assert (await p.chat(ASK)).text == "hi"
        assert server.connections == 1 and p.server_date == DATE
        head, body = server.requests[-1]
        assert head.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
        for line in (
            b"Authorization: Bearer sk-k",
            b"X-Team: a",
            b"Content-Type: application/json",
        ):
            assert line in head
        assert b"User-Agent" not in head and b"Accept-Encoding: identity" in head
        assert orjson.loads(body)["messages"] == [{"role": "user", "content": "hello"}]
        await p.close()


@pytest.mark.parametrize("framing", ["length", "chunked", "close", "gzip", "early hints"])
async def test_answers_are_read_however_they_are_framed(framing: str) -> None:
    reply = Reply(answer(framing=framing), close=framing == "close")
    if framing == "early hints":
        reply = Reply(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n", later=answer())
    script = [reply] * 2
    async with RawHttpServer(*script) as server:
        p = provider(server.base_url)
        assert [(await p.chat(ASK)).text for _ in range(2)] == ["hi", "hi"]
        assert server.connections == (2 if framing == "close" else 1)
        await p.close()


async def test_a_connection_closed_while_resting_is_replaced() -> None:
    async with RawHttpServer() as server:
        p = provider(server.base_url)
        await p.chat(ASK)
        await server.close_idle()
        assert (await p.chat(ASK)).text == "hi"
        assert server.connections == 2
        await p.close()


async def test_a_cut_off_or_malformed_answer_is_a_retryable_connection_failure() -> None:
    script = [
        Reply(answer()[:-20], close=True),
        Reply(b"HTTP/1.1 2x0 What\r\n\r\n"),
        Reply(b"", close=True),
    ]
    async with RawHttpServer(*script) as server:
        p = provider(server.base_url)
        for _ in script:
            error = await failure(p)
            assert "p: connection failed" in str(error)
            assert error.retryable and error.status is None and error.kind == "network"
        assert (await p.chat(ASK)).text == "hi"
        await p.close()


async def test_http_errors_keep_their_mapping_in_any_header_case() -> None:
    refused = orjson.dumps({"error": {"message": "slow down", "type": "rate", "code": 42}})
    script = [
        Reply(answer(refused, status="429 Too Many", headers="retry-after: 3\r\n")),
        Reply(answer(b'{"error": {"message": "bad key"}}', status="401 Unauthorized")),
        Reply(answer(b"", status="308 Moved", headers=f"Location: {MOVED}\r\n")),
    ]
    async with RawHttpServer(*script) as server:
        p = provider(server.base_url)
        limited = await failure(p)
        assert limited.status == 429 and limited.retryable and limited.retry_after == 3.0
        assert limited.detail == {
            "message": "slow down",
            "type": "rate",
            "param": None,
            "code": "42",
        }
        refused_key = await failure(p)
        assert refused_key.status == 401 and not refused_key.retryable
        assert "bad key (check the API key)" in str(refused_key)
        moved = await failure(p)
        assert moved.status == 308 and not moved.retryable
        assert "redirected to https://api.example/v1/chat/completions: set base_url" in str(moved)
        await p.close()


async def test_streams_read_chunked_events_and_say_when_cut_off() -> None:
    events = sse(delta("h"), delta("i"), delta(None, "stop"), b"[DONE]")
    cut = answer(sse(delta("h"), delta("i")), framing="chunked")[:-5]
    script = [Reply(answer(events, framing="chunked")), Reply(cut, close=True)]
    async with RawHttpServer(*script) as server:
        p = provider(server.base_url)
        assert "".join([d.text async for d in p.stream(ASK)]) == "hi"
        with pytest.raises(ProviderError, match="stream cut off by the provider"):
            [d async for d in p.stream(ASK)]
        await p.close()


async def test_a_stream_larger_than_the_read_buffer_arrives_whole() -> None:
    """Past 64 KB unread the pool stops reading the socket, and reads on once it is taken."""
    piece = "x" * 1000
    events = sse(*[delta(piece)] * 300, delta(None, "stop"), b"[DONE]")
    async with RawHttpServer(Reply(answer(events, framing="chunked"))) as server:
        p = provider(server.base_url)
        text = ""
        async for part in p.stream(ASK):
            text += part.text
            await asyncio.sleep(0)  # a consumer slower than loopback
        assert text == piece * 300
        await p.close()


async def test_the_total_timeout_ends_the_call_and_its_connection() -> None:
    started = answer(sse(delta("h")), framing="chunked")[:-5]
    async with RawHttpServer(Reply(hang=True), Reply(started, hang=True)) as server:
        p = provider(server.base_url, timeout=0.3)
        error = await failure(p)
        assert "request timed out" in str(error) and error.retryable
        with pytest.raises(ProviderError, match="stream timed out"):
            [d async for d in p.stream(ASK)]
        assert (await p.chat(ASK)).text == "hi" and server.connections == 3
        await p.close()


async def test_the_connect_timeout_covers_waiting_for_a_pooled_slot() -> None:
    async with RawHttpServer(Reply(hang=True)) as server:
        p = provider(server.base_url, max_connections=1, connect_timeout=0.2, timeout=30)
        hung = asyncio.create_task(p.chat(ASK))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        assert "request timed out" in str(await failure(p))
        assert time.monotonic() - started < 10  # the connect timeout, not the total one
        hung.cancel()
        await asyncio.gather(hung, return_exceptions=True)
        assert (await p.chat(ASK)).text == "hi"  # the cancelled call gave its slot back
        await p.close()


async def test_max_connections_caps_the_pool() -> None:
    async with RawHttpServer(*[Reply(answer(), delay=0.05)] * 8) as server:
        p = provider(server.base_url, max_connections=2)
        results = await asyncio.gather(*(p.chat(ASK) for _ in range(8)))
        assert [r.text for r in results] == ["hi"] * 8
        assert server.most_open == 2
        await p.close()


@pytest.fixture
def trusted_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ssl.SSLContext]:
    """A server's TLS whose CA the process trusts, as if in the system's bundle."""
    ca_file, server_tls = loopback_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    lean_http.tls_context.cache_clear()
    yield server_tls
    lean_http.tls_context.cache_clear()


async def test_https_base_urls_speak_verified_tls(
    trusted_tls: ssl.SSLContext, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    _, stranger_tls = loopback_tls(tmp_path / "other")  # a certificate from another CA
    async with RawHttpServer(tls=trusted_tls) as server:
        p = provider(server.base_url)
        assert (await p.chat(ASK)).text == "hi"
        await p.chat(ASK)
        assert server.connections == 1
        await p.close()
    async with RawHttpServer(tls=stranger_tls) as stranger:
        p = provider(stranger.base_url)
        error = await failure(p)
        assert "connection failed: TLS" in str(error) and "CERTIFICATE_VERIFY_FAILED" in str(error)
        await p.close()


async def test_a_provider_behind_a_proxy_goes_through_it(monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeOpenAI(api_key="sk-k") as proxy:
        monkeypatch.setenv("http_proxy", proxy.base_url.removesuffix("/v1"))
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        p = provider("http://model.invalid/v1")
        assert (await p.chat(ASK)).text == "echo: hello"
        assert [d.text async for d in p.stream(ASK)]
        assert proxy.requests[-1].headers["host"] == "model.invalid"
        await p.close()
