"""A loopback HTTP/1.1 server that answers each request with scripted bytes, byte for byte.

The OpenAI fake (an aiohttp app) always frames its answers well; a model API in the wild may
answer chunked, close-delimited, gzip-compressed, cut off, not at all, or close a keep-alive
connection while it rests. This server says exactly what the script says, over plain TCP or
TLS, and counts the connections it accepted and how many were open at once.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import orjson

JSON_ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-raw",
        "object": "chat.completion",
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
)
DATE = "Sun, 06 Dec 2026 07:00:00 GMT"


def answer(
    body: bytes = JSON_ANSWER,
    *,
    status: str = "200 OK",
    framing: str = "length",
    headers: str = "",
) -> bytes:
    """An HTTP answer with `body` framed by a Content-Length (`length`), as chunks of 7 bytes
    (`chunked`), by the connection's close (`close`) or compressed (`gzip`)."""
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nDate: {DATE}\r\n{headers}"
    if framing == "chunked":
        pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces)
        return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + chunks + b"0\r\n\r\n"
    if framing == "close":
        return f"{head}Connection: close\r\n\r\n".encode() + body
    if framing == "gzip":
        body = gzip.compress(body)
        head += "Content-Encoding: gzip\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


@dataclass
class Reply:
    """What to do with one request: send `data` (after `delay` s), then `later` 0.1 s after
    that if any, then close if `close`, or with `hang` send nothing more and keep it open."""

    data: bytes = b""
    close: bool = False
    delay: float = 0.0
    hang: bool = False
    later: bytes = b""


class RawHttpServer:
    """Answers requests in order from `script`; a plain 200 JSON answer once it is empty."""

    def __init__(self, *script: Reply, tls: ssl.SSLContext | None = None) -> None:
        self.script: deque[Reply] = deque(script)
        self.requests: list[tuple[bytes, bytes]] = []  # (head, body) in arrival order
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._stopping = asyncio.Event()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{port}/v1"

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._tls)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._stopping.set()
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def close_idle(self) -> None:
        """Close every connection now, as a server ends keep-alive connections that rest."""
        for writer in list(self._writers):
            writer.close()
        await asyncio.sleep(0.05)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                self.requests.append((head, await reader.readexactly(length)))
                reply = self.script.popleft() if self.script else Reply(answer())
                await asyncio.sleep(reply.delay)
                writer.write(reply.data)
                await writer.drain()
                if reply.later:
                    await asyncio.sleep(0.1)
                    writer.write(reply.later)
                if reply.hang:
                    await self._stopping.wait()
                    return
                if reply.close:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_now -= 1
            self._writers.discard(writer)
