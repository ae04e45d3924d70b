"""The server's HTTP protocol (ops/http_protocol.py): an answer of known length reaches the
socket in one write, head and body together; a stream still gets its head at once; HEAD, an
empty body and the next request on the connection are answered as before. A real uvicorn
server on 127.0.0.1, every write the protocol makes recorded."""

from __future__ import annotations

import asyncio
import gc
import socket
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import aiohttp
import uvicorn
from starlette.types import Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from aibot.ops.http_protocol import OneWriteProtocol, _JoinedWrites

Writes = list[bytes]


class _Recording:
    """The connection's transport with every write kept (and made)."""

    def __init__(self, transport: asyncio.Transport, writes: Writes) -> None:
        self._transport = transport
        self._writes = writes

    def write(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _recording(base: type[HttpToolsProtocol], writes: Writes) -> type[HttpToolsProtocol]:
    class Recording(base):  # type: ignore[valid-type, misc]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(_Recording(transport, writes))

    return Recording


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(0.05)  # the head must not wait for this
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b"" if path == "/empty" else b'{"answer":"hello"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def _server(protocol: type[HttpToolsProtocol]) -> AsyncIterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(_app, http=protocol, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _writes_of(
    protocol: type[HttpToolsProtocol], ask: Callable[[aiohttp.ClientSession, str], Awaitable[None]]
) -> Writes:
    writes: Writes = []
    async with _server(_recording(protocol, writes)) as url, aiohttp.ClientSession() as http:
        await ask(http, url)
    return writes


async def _get(http: aiohttp.ClientSession, url: str) -> None:
    async with http.get(f"{url}/answer") as resp:
        assert await resp.json() == {"answer": "hello"}


async def test_an_answer_of_known_length_is_one_write() -> None:
    writes = await _writes_of(OneWriteProtocol, _get)
    assert len(writes) == 1
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b'\r\n\r\n{"answer":"hello"}')


async def test_uvicorns_own_protocol_writes_head_and_body_apart() -> None:
    """What the protocol is for: without it the same answer is two writes (two syscalls)."""
    assert len(await _writes_of(HttpToolsProtocol, _get)) == 2


async def test_a_stream_gets_its_head_before_its_first_event() -> None:
    async def stream(http: aiohttp.ClientSession, url: str) -> None:
        async with http.get(f"{url}/stream") as resp:
            assert resp.status == 200
            assert await resp.read() == b"data: 1\n\n"

    writes = await _writes_of(OneWriteProtocol, stream)
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b"transfer-encoding: chunked\r\n\r\n")
    assert b"data: 1" in writes[1]


async def test_head_empty_bodies_and_the_next_request_on_the_connection() -> None:
    async def several(http: aiohttp.ClientSession, url: str) -> None:
        async with http.head(f"{url}/answer") as resp:
            assert resp.status == 200
            assert resp.headers["content-length"] == "18"
        async with http.get(f"{url}/empty") as resp:
            assert await resp.read() == b""
        await _get(http, url)
        await _get(http, url)  # the same connection, kept alive

    # One per answer (uvicorn also writes the empty body, which sends nothing).
    writes = [write for write in await _writes_of(OneWriteProtocol, several) if write]
    assert len(writes) == 4
    assert writes[0].endswith(b"\r\n\r\n")  # HEAD: the head alone, nothing held back
    assert writes[1].endswith(b"content-length: 0\r\n\r\n")


async def test_a_finished_request_leaves_no_reference_cycle() -> None:
    """The cycle holds its transport: a transport holding the cycle past the header block
    would leave every request to the garbage collector."""
    cycles: list[weakref.ref[RequestResponseCycle]] = []

    class Watching(OneWriteProtocol):
        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            cycles.append(weakref.ref(self.cycle))

    gc.disable()
    try:
        async with _server(Watching) as url, aiohttp.ClientSession() as http:
            await _get(http, url)
            await _get(http, url)  # the connection drops the first cycle for this one
            assert cycles[0]() is None
    finally:
        gc.enable()


def test_a_uvicorn_cycle_of_another_shape_writes_as_uvicorn_does() -> None:
    """The protocol reads uvicorn's internals: if a release renames them, every write goes
    through at once (uvicorn's own behaviour) instead of failing the answer."""
    writes: Writes = []

    class Transport:
        def write(self, data: bytes) -> None:
            writes.append(bytes(data))

    class OtherCycle:  # none of response_started, chunked_encoding, expected_content_length
        def __init__(self) -> None:
            self.scope = {"method": "GET"}

    joined = _JoinedWrites(cast(asyncio.Transport, Transport()), cast(Any, OtherCycle()))
    joined.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    joined.write(b"{}")
    assert writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", b"{}"]
