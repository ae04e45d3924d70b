"""The HTTP/1.1 protocol the server speaks: uvicorn's httptools protocol, with the head and
the body of an answer of known length written to the socket in one piece.

uvicorn writes the status line and headers when the app sends `http.response.start`, and the
body when it sends `http.response.body`: two `send` system calls per answer, each waking the
client (and on loopback each running the client's side of TCP in the sender), the largest
part of the gateway's own CPU per message after the model call (bench/README.md, issue 20).
Here, when the headers carry a `Content-Length` and a body must follow (not a HEAD, not an
empty body), the header block waits for the body and goes out with it: every answer of the
per-message endpoints, the probes and the API's errors. An answer without a length (a
stream, Server-Sent Events) has its headers written at once, as before, so a client sees
the status before the first event.

Nothing else changes: uvicorn still parses, checks and frames everything; only the moment
the header bytes reach the socket moves, to the body's `send`, which Starlette's `Response`
makes right after the start. An app that fails between the two now closes the connection
with nothing written instead of after the headers: either way the client has no answer.

It reads three attributes of uvicorn's request cycle (`response_started`, `chunked_encoding`,
`expected_content_length`) and sets its `transport`: uvicorn's internals, not its API. Each is
read with a default that means "write as uvicorn does", so a uvicorn release that renames
them costs the joined write, never an answer (tests/integration/test_http_protocol.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


class _JoinedWrites(asyncio.Transport):
    """The connection's transport as one request's cycle sees it: the header block of an
    answer whose body follows is held and written with the body. The cycle uses only
    `write`, `close` and `is_closing`; the rest of the connection (reads, flow control, the
    next request) keeps the real transport."""

    __slots__ = ("_cycle", "_held", "_transport")

    def __init__(self, transport: asyncio.Transport, cycle: RequestResponseCycle) -> None:
        super().__init__()
        self._transport = transport
        # Until the header block: the cycle holds this object, so keeping the cycle beyond
        # that would make every request a reference cycle, left for the garbage collector.
        self._cycle: RequestResponseCycle | None = cycle
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview[Any]) -> None:
        cycle = self._cycle
        if self._held is not None:
            data, self._held = self._held + data, None
        elif cycle is not None and getattr(cycle, "response_started", True):
            # uvicorn sets `response_started` before writing the header block, and writes
            # nothing else until then but a `100 Continue`.
            self._cycle = None
            if _body_follows(cycle):
                self._held = bytes(data)
                return
        self._transport.write(data)

    def close(self) -> None:
        self._cycle = self._held = None
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)


def _body_follows(cycle: RequestResponseCycle) -> bool:
    """Whether the head just written announces a body of known length (False when uvicorn's
    cycle does not say: the head is then written at once, as uvicorn writes it)."""
    return (
        getattr(cycle, "chunked_encoding", None) is False
        and getattr(cycle, "expected_content_length", 0) > 0
        and cycle.scope["method"] != "HEAD"
    )


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (`uvicorn.Config(http=...)` takes the class), each
    request's cycle writing through `_JoinedWrites`."""

    def on_headers_complete(self) -> None:
        before = getattr(self, "cycle", None)
        super().on_headers_complete()
        cycle = getattr(self, "cycle", None)
        # A new cycle (not an upgrade, which makes none): its task has not run yet.
        if cycle is not before and cycle is not None:
            cycle.transport = _JoinedWrites(self.transport, cycle)
