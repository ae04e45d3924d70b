"""CPU per outbound model call: the provider's `chat()` against the loopback fake, beside the
same POST made with aiohttp alone and with a raw asyncio protocol (the floor of the call).

The gateway's per-message cost has the model call as its largest part (issue 20), and that part
is the HTTP client, not the model: the fake answers at once. This measures the client alone, in
this process, as CPU time (`time.process_time()`) per call, at 1 and at 50 calls in flight:

- `chat() pass-through`: `OpenAICompatibleProvider.chat()` with a stateless `/v1` caller's body
  (`bench/load.py`'s), what `/v1/chat/completions` sends;
- `chat() typed`: the same with a gateway-built request (one user message), what REST sends;
- `aiohttp post`: `ClientSession.post()` of the ready body on a session set up as the provider's,
  `read()` and `orjson.loads` — aiohttp's own share of `chat()`;
- `raw protocol (floor)`: an `asyncio.Protocol` with httptools' response parser over pooled
  keep-alive connections, the request written as one buffer, the answer's headers kept and its
  body parsed with `orjson` — what the call costs with no client library at all.

The callers run interleaved, round after round, so each sees the same share of whatever else
runs on the machine; the table gives the median and the range over the rounds. Run on demand:

    .venv/bin/python -m bench.client_call [--calls 3000] [--rounds 5] [--concurrency 1,50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/client_call.py` too

import aiohttp
import httptools
import orjson
import yarl
from bench.load import openai_body
from bench.processes import start_fake, stop_all
from bench.run import run_reported
from rich.console import Console
from rich.table import Table

from aibot.config import ProviderConfig
from aibot.core.messages import ChatRequest, Message
from aibot.providers.openai_compat import OpenAICompatibleProvider

API_KEY = "x"
FLOOR = "raw protocol (floor)"
Call = Callable[[], Awaitable[None]]


@dataclass
class Caller:
    """One way of making the call: `call` makes one, `close` releases its connections."""

    name: str
    call: Call
    close: Callable[[], Awaitable[None]]
    cpu_us: dict[int, list[float]] = field(default_factory=dict)  # concurrency -> per round


def provider_caller(name: str, base_url: str, request: ChatRequest) -> Caller:
    config = ProviderConfig.model_validate(
        {"base_url": base_url, "api_key": API_KEY, "model": "fake-model"}
    )
    provider = OpenAICompatibleProvider("fake", config)

    async def call() -> None:
        await provider.chat(request)

    return Caller(name, call, provider.close)


def aiohttp_caller(base_url: str, body: bytes) -> Caller:
    """aiohttp as the provider sets it up today, with nothing of ours around the POST."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300, enable_cleanup_closed=True),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"},
        timeout=aiohttp.ClientTimeout(total=120, connect=10),
        skip_auto_headers=("User-Agent",),
    )
    url = f"{base_url}/chat/completions"

    async def call() -> None:
        async with session.post(url, data=body) as response:
            response.headers.get("Date")
            orjson.loads(await response.read())

    return Caller("aiohttp post", call, session.close)


class _RawConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection parsed by httptools; one request at a time."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.answer: asyncio.Future[tuple[int, bytes]] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.reusable = True

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(exc or ConnectionResetError("connection closed"))

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self.parser.should_keep_alive()
        body, self.body, self.headers = b"".join(self.body), [], []
        if self.answer is not None:
            self.answer.set_result((self.parser.get_status_code(), body))


def raw_caller(base_url: str, body: bytes) -> Caller:
    """The floor: the request's bytes built once but for its length, no client library."""
    url = yarl.URL(base_url)
    host, port = url.raw_host or "127.0.0.1", url.port or 80
    head = (
        f"POST {url.raw_path}/chat/completions HTTP/1.1\r\nHost: {url.raw_authority}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer {API_KEY}\r\n"
        "Content-Length: "
    ).encode()
    idle: list[_RawConnection] = []
    loop = asyncio.get_running_loop()

    async def call() -> None:
        while idle and not idle[-1].reusable:
            idle.pop()
        if idle:
            conn = idle.pop()
        else:
            transport, conn = await loop.create_connection(_RawConnection, host, port)
            conn.transport = transport
        assert conn.transport is not None
        conn.answer = loop.create_future()
        conn.transport.write(b"".join((head, str(len(body)).encode(), b"\r\n\r\n", body)))
        status, answer = await conn.answer
        conn.answer = None
        if status != 200:
            raise RuntimeError(f"HTTP {status}")
        orjson.loads(answer)
        if conn.reusable:
            idle.append(conn)
        else:
            conn.transport.close()

    async def close() -> None:
        while idle:
            transport = idle.pop().transport
            if transport is not None:
                transport.close()

    return Caller(FLOOR, call, close)


async def run_block(call: Call, calls: int, concurrency: int) -> float:
    """`calls` calls from `concurrency` workers; the CPU time they took, in µs per call."""
    remaining = calls

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await call()

    gc.collect()
    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - start) / calls * 1e6


def make_callers(base_url: str, wire: dict[str, Any], body: bytes) -> list[Caller]:
    """The callers compared, the floor last (`--only` picks some by a word of their name)."""
    return [
        provider_caller(
            "chat() pass-through", base_url, ChatRequest([Message("user", "hello 1")], wire=wire)
        ),
        provider_caller("chat() typed", base_url, ChatRequest([Message("user", "hello")])),
        aiohttp_caller(base_url, body),
        raw_caller(base_url, body),
    ]


async def measure(args: argparse.Namespace) -> list[Caller]:
    children: list[asyncio.subprocess.Process] = []
    with tempfile.TemporaryDirectory(prefix="ai-bot-client-") as tmp:
        try:
            base_url = await start_fake(Path(tmp) / "fake.log", children)
            wire = openai_body(0, 1)
            callers = make_callers(base_url, wire, orjson.dumps({**wire, "model": "fake-model"}))
            callers = [c for c in callers if any(word in c.name for word in args.only)]
            try:
                for caller in callers:  # connections opened, aiohttp imported, caches warm
                    await run_block(caller.call, args.warmup, max(args.concurrency))
                for _ in range(args.rounds):
                    for concurrency in args.concurrency:
                        for caller in callers:
                            cpu = await run_block(caller.call, args.calls, concurrency)
                            caller.cpu_us.setdefault(concurrency, []).append(cpu)
            finally:
                for caller in callers:
                    await caller.close()
            return callers
        finally:
            await stop_all(children)


def report(callers: list[Caller], args: argparse.Namespace, console: Console) -> None:
    load = Path("/proc/loadavg").read_text().split()[:3]
    table = Table(
        title=f"client CPU µs per call, median (min–max) of {args.rounds} rounds of "
        f"{args.calls} calls; load average {' '.join(load)}"
    )
    table.add_column("caller")
    floor = next((c for c in callers if c.name == FLOOR), None)
    for concurrency in args.concurrency:
        table.add_column(f"{concurrency} in flight", justify="right")
        if floor is not None:
            table.add_column("× floor", justify="right")
    for caller in callers:
        cells: list[str] = [caller.name]
        for concurrency in args.concurrency:
            runs = caller.cpu_us[concurrency]
            median = statistics.median(runs)
            cells.append(f"{median:.1f} ({min(runs):.1f}–{max(runs):.1f})")
            if floor is not None:
                cells.append(f"{median / statistics.median(floor.cpu_us[concurrency]):.2f}")
        table.add_row(*cells)
    console.print(table)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=3000, help="calls per caller and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", default="1,50", help="calls in flight, comma-separated")
    parser.add_argument(
        "--only", default="", help="comma-separated words: only the callers whose name has one"
    )
    args = parser.parse_args(argv)
    args.only = args.only.split(",")
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    result: Any = run_reported(measure(args), console, error_code=2)
    if isinstance(result, int):
        return result
    report(result, args, console)
    return 0


if __name__ == "__main__":
    sys.exit(main())
