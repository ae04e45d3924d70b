"""The load the benchmarks drive: closed-loop and paced requests, the request bodies of each
path and mode, and latency percentiles.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from bench.gc_probe import nearest_rank_ms
from bench.processes import JSON

MakeBody = Callable[[int, int], JSON]  # (session number, message number) → request body
IsOk = Callable[[Any], bool]  # decoded response JSON → was it a proper answer?
MakeHeaders = Callable[[int, int], dict[str, str]]  # (session, message number) → extra headers


@dataclass
class Run:
    """What one drive produced: per-request latencies (answered ones), when each of them was
    sent (perf_counter seconds, to match them with the gateway's GC pauses) and what went
    wrong."""

    latencies: list[float] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    errors: int = 0
    wall: float = 0.0
    error_kinds: Counter[str] = field(default_factory=Counter)

    def add(self, other: Run) -> None:
        """Adds another drive of the same target (one block of an alternating load)."""
        self.latencies.extend(other.latencies)
        self.starts.extend(other.starts)
        self.errors += other.errors
        self.wall += other.wall
        self.error_kinds.update(other.error_kinds)

    def answered(self, started: float, elapsed: float) -> None:
        """Count one request answered well: sent at ``started``, answered ``elapsed`` later."""
        self.latencies.append(elapsed)
        self.starts.append(started)

    def fail(self, kind: str) -> None:
        """Count one request that was not answered well, by what went wrong."""
        self.errors += 1
        self.error_kinds[kind] += 1

    async def send(
        self,
        http: aiohttp.ClientSession,
        url: str,
        body: JSON,
        is_ok: IsOk,
        headers: dict[str, str] | None = None,
    ) -> None:
        """One timed request: its latency when answered well, else its error kind."""
        started = time.perf_counter()
        try:
            async with http.post(url, json=body, headers=headers) as resp:
                raw = await resp.read()
            elapsed = time.perf_counter() - started
            if resp.status == 200 and is_ok(orjson.loads(raw)):
                self.answered(started, elapsed)
                return
            kind = f"HTTP {resp.status}: {raw[:80].decode(errors='replace')}"
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            kind = f"{type(exc).__name__}: {exc}"[:100]
        self.fail(kind)


async def drive(
    http: aiohttp.ClientSession,
    url: str | list[str],
    *,
    count: int,
    concurrency: int,
    conversations: int,
    make_body: MakeBody,
    is_ok: IsOk,
    first: int = 0,
    make_headers: MakeHeaders | None = None,
    affinity: bool = False,
) -> Run:
    """Send ``count`` requests from ``concurrency`` workers and time each one.

    Worker i owns conversations i, i+C, i+2C... and cycles through them, so no conversation is
    ever used by two workers at once (the gateway serialises a session; sharing would measure
    queueing, not throughput). Messages are numbered from ``first`` so every one is distinct.
    Several ``url``s (replicas) take message k in turn, k modulo their number, as a balancer
    without affinity would: a conversation's next message may land on another replica. With
    ``affinity`` a conversation's messages all go to one url (its number modulo theirs): the
    independent processes, which share no store, each keep whole conversations, as long as
    one process's and the replicas' are.
    """
    run = Run()
    numbers = iter(range(first, first + count))  # shared: each worker takes the next number
    urls = [url] if isinstance(url, str) else url

    async def worker(i: int) -> None:
        sessions = itertools.cycle(range(i, conversations, concurrency))
        for k in numbers:
            session = next(sessions)
            headers = make_headers(session, k) if make_headers else None
            target = urls[(session if affinity else k) % len(urls)]
            await run.send(http, target, make_body(session, k), is_ok, headers)

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    run.wall = time.perf_counter() - started
    return run


async def pace(
    http: aiohttp.ClientSession,
    url: str,
    *,
    rate: float,
    count: int,
    concurrency: int,
    conversations: int,
    make_body: MakeBody,
    is_ok: IsOk,
    first: int = 0,
    make_headers: MakeHeaders | None = None,
) -> Run:
    """Like ``drive`` but open-loop: ``concurrency`` conversations together send ``rate``
    messages/s on a fixed schedule, so latency is measured below saturation, not queueing."""
    run = Run()
    interval = concurrency / rate
    per_worker = count // concurrency
    start = time.perf_counter()

    async def worker(i: int) -> None:
        sessions = itertools.cycle(range(i, conversations, concurrency))
        due = start + i * interval / concurrency
        for n in range(per_worker):
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            due += interval
            session, k = next(sessions), first + i * per_worker + n
            headers = make_headers(session, k) if make_headers else None
            await run.send(http, url, make_body(session, k), is_ok, headers)

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    run.wall = time.perf_counter() - start
    return run


def fake_body(_session: int, k: int) -> JSON:
    return {"model": "fake-model", "messages": [{"role": "user", "content": f"hello {k}"}]}


def gateway_body(session: int, k: int) -> JSON:
    return {"session_id": f"bench-{session}", "message": f"hello {k}"}


def openai_body(session: int, k: int) -> JSON:
    """A stateless `/v1` call as OpenAI clients make it: the history travels in the request."""
    history = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": f"hi from {session}"},
        {"role": "assistant", "content": f"echo: hi from {session}"},
        {"role": "user", "content": f"hello {k}"},
    ]
    return {"model": "fake", "messages": history, "temperature": 0.2}


def fake_ok(body: Any) -> bool:
    return isinstance(body, dict) and bool(body.get("choices"))


def gateway_ok(body: Any) -> bool:
    return isinstance(body, dict) and "reply" in body


def any_ok(_body: Any) -> bool:
    return True


def new_conversation_body(_session: int, k: int) -> JSON:
    """REST, a conversation nobody used before: how a user arrives (and how peers measure)."""
    return {"session_id": f"new-{k}", "message": f"hello {k}"}


def openai_turn_body(_session: int, k: int) -> JSON:
    """A `/v1` call with gateway memory: only the new message travels."""
    return {"model": "fake", "messages": [{"role": "user", "content": f"hello {k}"}]}


def reused_session(session: int, _k: int) -> dict[str, str]:
    return {"X-Session-Id": f"bench-{session}"}


def new_session(_session: int, k: int) -> dict[str, str]:
    return {"X-Session-Id": f"new-{k}"}


@dataclass(frozen=True)
class Mode:
    """One path through the gateway the benchmark loads, with its own targets."""

    name: str
    path: str
    make_body: MakeBody
    is_ok: IsOk
    make_headers: MakeHeaders | None = None
    max_cpu_ms: float | None = None  # the issue-20 targets per path
    min_fraction: float | None = None


MODES: dict[tuple[str, str], Mode] = {
    ("rest", "new"): Mode(
        "REST new conversation",
        "/api/v1/chat",
        new_conversation_body,
        gateway_ok,
        None,
        0.5,
        0.15,
    ),
    ("rest", "reused"): Mode("REST reused conversations", "/api/v1/chat", gateway_body, gateway_ok),
    ("openai", "new"): Mode(
        "/v1 new conversation",
        "/v1/chat/completions",
        openai_turn_body,
        fake_ok,
        new_session,
        0.5,
        0.15,
    ),
    ("openai", "reused"): Mode(
        "/v1 reused conversations",
        "/v1/chat/completions",
        openai_turn_body,
        fake_ok,
        reused_session,
    ),
    ("openai", "stateless"): Mode(
        "/v1 stateless", "/v1/chat/completions", openai_body, fake_ok, None, 0.3
    ),
}
DEFAULT_MODES = {"rest": "new,reused", "openai": "new,reused,stateless"}


def percentile_ms(latencies: list[float], pct: float) -> float | None:
    """Nearest-rank percentile in milliseconds (None when nothing was answered)."""
    return nearest_rank_ms(sorted(latencies), pct)
