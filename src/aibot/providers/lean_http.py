"""HTTP/1.1 keep-alive connections to one model API origin, for the provider's own calls.

The model call is the largest part of the gateway's CPU per message (issue 20), and most of it
was aiohttp's per-request machinery — a request, a response and a stream-reader object, a writer
task, header merging, cookie filtering, timers — around one POST whose headers never change:
aiohttp took 125–230 µs of CPU a call where this takes ~40 µs (`bench/client_call.py`). Here
the request head is built once per path, the answer is parsed by httptools (the parser uvicorn
uses for the gateway's own requests) as it arrives, and a call is one write and one wait.

It does only what a provider needs: POST and GET to `http` and `https` origins (the system's CA
bundle, as aiohttp's default context), a pool capped at `max_connections` that drops
connections idle for more than `KEEPALIVE` seconds or closed by the server, a total deadline
and a connect timeout covering the wait for a pooled slot (as aiohttp's `ClientTimeout`),
`Content-Length`, chunked and close-delimited answers, gzip or deflate answers from a server
that compresses though asked not to. A provider behind a proxy keeps aiohttp (`proxy_for`).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import urllib.parse
import zlib
from collections import deque
from collections.abc import AsyncIterator
from functools import cache
from typing import cast

import aiohappyeyeballs
import httptools

KEEPALIVE = 15.0  # seconds a pooled connection may rest (aiohttp's default keepalive_timeout)
_HIGH_WATER = 1 << 16  # buffered answer bytes at which a stream stops reading the socket


class LeanHttpError(Exception):
    """The call failed below HTTP: no connection, the connection lost, an unreadable answer."""


class BodyCutOff(LeanHttpError):
    """The connection ended after the answer's headers, before the end of its body."""


@cache
def tls_context() -> ssl.SSLContext:
    """The verifying context of every https origin, made once (reading the CA bundle)."""
    return ssl.create_default_context()


class Headers:
    """An answer's headers by name, in any case (`Retry-After`, `retry-after`)."""

    __slots__ = ("_by_name",)

    def __init__(self, by_name: dict[str, str]) -> None:
        self._by_name = by_name

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._by_name.get(name.lower(), default)


class _Connection(asyncio.Protocol):
    """One connection; one exchange at a time, its answer parsed as the bytes arrive."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.open = True
        self.rested_at = 0.0
        self.timer: asyncio.TimerHandle | None = None  # the exchange's deadline
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.complete = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.streaming = False
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.complete:
            return  # resting in the pool: it is dropped when next taken
        if self.status and not self.keep_alive and not self._framed():
            self.on_message_complete()  # a body delimited by the connection's close
            return
        reason = f": {exc}" if exc else ""
        if self.status:
            self._fail(BodyCutOff(f"answer cut off{reason}"))
        else:
            self._fail(LeanHttpError(f"server disconnected{reason}"))

    def _framed(self) -> bool:
        """Whether the answer says where its body ends (a length, chunks or no body)."""
        headers = self.headers
        return (
            "content-length" in headers
            or "chunked" in headers.get("transfer-encoding", "")
            or self.status in (204, 304)
        )

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(LeanHttpError(f"malformed HTTP answer: {exc}"))
            self.abort()

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # an interim answer (103 Early Hints): the answer follows
            self.headers = {}
            return
        self.status = status
        self.keep_alive = self.parser.should_keep_alive()
        if self.streaming:
            self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.streaming:
            if self.buffered > _HIGH_WATER and self.transport is not None:
                self.transport.pause_reading()
                self.paused = True
            self._wake()

    def on_message_complete(self) -> None:
        if not self.status:
            return  # the end of an interim answer
        self.complete = True
        self.keep_alive = self.keep_alive and self.parser.should_keep_alive()
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def expire(self) -> None:
        """The exchange's deadline passed: its wait ends in TimeoutError, the connection dies."""
        self._fail(TimeoutError())
        self.abort()

    def _fail(self, error: BaseException) -> None:
        if self.error is None:  # the first cause stays (a timeout, not the close it causes)
            self.error = error
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(self.error)

    async def wait(self) -> None:
        """Until something arrives (headers, a chunk, the end) or the connection fails."""
        if self.error is not None:
            raise self.error
        self.waiter = asyncio.get_running_loop().create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def take(self) -> bytes:
        """What the answer's body has buffered so far, emptied; reading resumes."""
        body = b"".join(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
        self.chunks.clear()
        self.buffered = 0
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return body

    def abort(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.abort()


class Answer:
    """An answer whose headers have arrived; its body is read with `read` or `chunks`."""

    __slots__ = ("_conn", "_decoder", "_pool", "_released", "headers", "status")

    def __init__(self, pool: LeanPool, conn: _Connection) -> None:
        self._released = False
        self._pool = pool
        self._conn = conn
        self.status = conn.status
        self.headers = Headers(conn.headers)
        self._decoder = _decoder(conn.headers.get("content-encoding"))

    async def read(self) -> bytes:
        """The whole body (the connection goes back to the pool once it is read)."""
        conn = self._conn
        while not conn.complete:
            await conn.wait()
        return self._decode(conn.take(), final=True)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives."""
        conn = self._conn
        while True:
            if conn.chunks:
                yield self._decode(conn.take(), final=False)
            elif conn.complete:
                tail = self._decode(b"", final=True)
                if tail:
                    yield tail
                return
            else:
                await conn.wait()

    async def lines(self) -> AsyncIterator[bytes]:
        """The body line by line (an event stream), without the newlines."""
        rest = b""
        async for chunk in self.chunks():
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                yield line
        if rest:
            yield rest

    def _decode(self, data: bytes, *, final: bool) -> bytes:
        if self._decoder is None:
            return data
        try:
            out = self._decoder.decompress(data)
            return out + self._decoder.flush() if final else out
        except zlib.error as exc:
            raise LeanHttpError(f"undecodable answer body: {exc}") from None

    def release(self) -> None:
        """Back to the pool if the answer was read to its end, else closed; once."""
        if not self._released:
            self._released = True
            self._pool.release(self._conn)


def _decoder(encoding: str | None) -> zlib._Decompress | None:
    if encoding is None or encoding == "identity":
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise LeanHttpError(f"unsupported content encoding: {encoding}")


class LeanPool:
    """Up to `limit` keep-alive connections to the origin of `base_url`."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        *,
        limit: int,
        connect_timeout: float,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self._host = parts.hostname or ""
        self._tls = parts.scheme == "https"
        self._port = parts.port or (443 if self._tls else 80)
        self._base_path = urllib.parse.quote(parts.path.rstrip("/"), safe="/%:@!$&'()*+,;=~")
        fixed = {"Host": parts.netloc, "Accept": "*/*", "Accept-Encoding": "identity", **headers}
        for name, value in fixed.items():
            if any(c in f"{name}{value}" for c in "\r\n\0") or ":" in name:
                raise ValueError(f"invalid HTTP header {name!r}")
        self._fixed = "".join(f"{name}: {value}\r\n" for name, value in fixed.items())
        self._heads: dict[tuple[str, str], bytes] = {}
        self._slots = asyncio.Semaphore(limit)
        self._idle: list[_Connection] = []
        self._connect_timeout = connect_timeout
        self.closed = False

    def _head(self, method: str, path: str) -> bytes:
        key = (method, path)
        head = self._heads.get(key)
        if head is None:
            target = f"{self._base_path}{urllib.parse.quote(path, safe='/')}"
            length = "Content-Length: " if method != "GET" else ""
            head = f"{method} {target} HTTP/1.1\r\n{self._fixed}{length}".encode()
            self._heads[key] = head
        return head

    async def send(
        self, method: str, path: str, body: bytes | None, *, deadline: float, stream: bool
    ) -> Answer:
        """Send the request and wait for its answer's headers (and, unless `stream`, its body)
        until `deadline` (the loop's clock); the caller `release`s the answer when done."""
        head = self._head(method, path)
        wire = head + b"\r\n" if body is None else b"%s%d\r\n\r\n%s" % (head, len(body), body)
        conn = await self._acquire(deadline)
        conn.streaming = stream
        conn.timer = asyncio.get_running_loop().call_at(deadline, conn.expire)
        try:
            assert conn.transport is not None
            conn.transport.write(wire)
            while not (conn.complete or (stream and conn.status)):
                await conn.wait()
            return Answer(self, conn)
        except BaseException:
            conn.abort()
            self.release(conn)
            raise

    async def _acquire(self, deadline: float) -> _Connection:
        """A pooled connection, or a new one; the connect timeout covers the wait for a slot
        as well as the connecting (aiohttp's `ClientTimeout.connect` does the same)."""
        loop = asyncio.get_running_loop()
        had_slot = not self._slots.locked()
        if had_slot:
            await self._slots.acquire()  # a free slot: no wait
            conn = self._rested(loop.time())
            if conn is not None:
                return conn
        async with asyncio.timeout_at(min(loop.time() + self._connect_timeout, deadline)):
            if not had_slot:
                await self._slots.acquire()
            try:
                return self._rested(loop.time()) or await self._connect(loop)
            except BaseException:
                self._slots.release()
                raise

    def _rested(self, now: float) -> _Connection | None:
        """A pooled connection still open and not resting too long to trust, if any."""
        idle = self._idle
        while idle:
            conn = idle.pop()
            if conn.open and now - conn.rested_at < KEEPALIVE:
                conn._reset()
                return conn
            conn.abort()
        return None

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        """Happy eyeballs over the host's addresses (IPv6 and IPv4 raced 0.25 s apart, as
        aiohttp connects), then TLS for https."""
        tls = tls_context() if self._tls else None
        try:
            infos = await loop.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)
            sock = await aiohappyeyeballs.start_connection(
                infos, happy_eyeballs_delay=0.25, loop=loop
            )
            try:
                transport, conn = await loop.create_connection(
                    _Connection, sock=sock, ssl=tls, server_hostname=self._host if tls else None
                )
            except BaseException:
                sock.close()
                raise
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise LeanHttpError(f"TLS with {self._host}:{self._port} failed: {exc}") from None
        except OSError as exc:
            if isinstance(exc, TimeoutError):
                raise
            raise LeanHttpError(f"cannot connect to {self._host}:{self._port}: {exc}") from None
        conn.transport = transport  # uvloop may call `connection_made` only on its next turn
        return conn

    def release(self, conn: _Connection) -> None:
        """Give back the slot; keep the connection if its answer ended and it may be reused."""
        self._slots.release()
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        if conn.complete and conn.keep_alive and conn.open and not self.closed:
            conn.rested_at = asyncio.get_running_loop().time()
            conn.waiter = None
            self._idle.append(conn)
        elif conn.open:
            conn.abort()

    async def close(self) -> None:
        self.closed = True
        while self._idle:
            conn = self._idle.pop()
            if conn.transport is not None:
                conn.transport.close()
