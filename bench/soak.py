"""Soak the gateway: 100,000 messages over mixed channels against one `ai-bot run`, watching RSS.

Why: a short benchmark (``bench/run.py``) cannot show a slow leak, an unbounded cache or a
message lost once in ten thousand. This drives one real gateway process for a long time over
every kind of path it has — the generic webhook channel (inbox → outbox → signed callback),
Telegram in webhook mode (inbox → outbox → Bot API), the REST API and the OpenAI-compatible API
(plain and streamed) — with thousands of conversations, more than the gateway keeps in memory,
so session caches fill and evict. The model is the loopback fake answering at once, so the run
is the gateway's own work. It samples the process's resident memory throughout and checks that
the memory levels off and that every asynchronous message got exactly one answer.

    .venv/bin/python -m bench.soak [--messages 100000] [--quick] [--storage-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/soak.py` too

import aiohttp
import orjson
from bench.gc_probe import GcPauses
from bench.load import Run, percentile_ms
from bench.measure import gc_pauses
from bench.processes import (
    API_KEY,
    JSON,
    BenchError,
    cpu_seconds,
    free_port,
    rss_mb,
    start_fake,
    start_gateway,
    stop_process,
    tail,
)
from bench.run import cancel_on_sigterm, run_reported, write_json
from rich.console import Console
from rich.markup import escape
from rich.status import Status
from rich.table import Table
from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.telegram_api import FakeTelegram

FULL_MESSAGES = 100_000
QUICK_MESSAGES = 5_000
# Share of the client workers (and of the conversations) each channel gets.
SHARES: dict[str, float] = {
    "webhook": 0.25,
    "telegram": 0.25,
    "rest": 0.2,
    "openai": 0.2,
    "openai-stream": 0.1,
}
ASYNC_CHANNELS = ("webhook", "telegram")  # answered on another connection: checked exactly-once
PLATEAU_WINDOW = (0.2, 0.4)  # fractions of the load's duration whose RSS median is the plateau
RSS_TOLERANCE = 0.10  # the RSS at the end may exceed the plateau by at most this fraction
SETTLE = 2.0  # seconds to wait after the load for late or duplicate answers
MAX_CONVERSATIONS = 3000  # default cap: more than the 2,000 the gateway caches, so it evicts
# Credentials of the loopback fakes only.
TG_TOKEN = "123456:SOAK-TOKEN"  # noqa: S105
TG_SECRET = "soak-webhook-secret"  # noqa: S105
CALLBACK_SECRET = "soak-callback-secret"  # noqa: S105
CHAT_BASE = 1_000_000  # Telegram private chat id of conversation n is CHAT_BASE + n

Send = Callable[[int, int], Awaitable[None]]  # (conversation, message number) → sent, timed


def prompt(k: int) -> str:
    return f"soak {k}"


def answer(k: int) -> str:
    """What the fake model answers to message ``k``: it echoes the prompt, so the answer names
    its message and a crossed or mangled reply is caught."""
    return f"echo: {prompt(k)}"


def number_of(text: Any) -> int | None:
    """The message number an answer belongs to, or None for anything that is not one of ours."""
    prefix = answer(0).removesuffix("0")
    if not isinstance(text, str) or not text[len(prefix) :].isdigit():
        return None
    k = int(text[len(prefix) :])
    return k if answer(k) == text else None


def completion_text(body: Any, part: str) -> str | None:
    """The text of an OpenAI completion (``part`` "message") or chunk ("delta"); None when the
    body is not shaped like one, so a malformed answer is an error, not a crash."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or len(choices) != 1 or not isinstance(choices[0], dict):
        return None
    content = (choices[0].get(part) or {}).get("content")
    return content if isinstance(content, str) else None


# --------------------------------------------------------------------------- asynchronous replies


class Replies:
    """Answers that come back on a connection of their own (a callback, a Telegram send),
    matched to their message by its number and counted, so a lost or doubled answer shows."""

    def __init__(self) -> None:
        self.expected: dict[int, object] = {}  # message number → where its answer must go
        self.counts: Counter[int] = Counter()
        self.stray = 0  # answers to nothing we sent, or not an answer of ours at all
        self._waiting: dict[int, asyncio.Future[float]] = {}

    def expect(self, k: int, where: object) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.expected[k] = where
        self._waiting[k] = future
        return future

    def forget(self, k: int) -> None:
        """Stop waiting for ``k``; an answer arriving later is still counted."""
        self._waiting.pop(k, None)

    def withdraw(self, k: int) -> None:
        """``k`` was not accepted (an error already counted): no answer is due."""
        self.forget(k)
        del self.expected[k]

    def arrived(self, k: int | None, where: object, at: float) -> None:
        """An answer to message ``k`` (None: not one of ours) reached ``where`` at ``at``."""
        if k is None or self.expected.get(k) != where:
            self.stray += 1
            return
        self.counts[k] += 1
        future = self._waiting.pop(k, None)
        if future is not None and not future.done():
            future.set_result(at)

    @property
    def missing(self) -> int:
        return sum(1 for k in self.expected if k not in self.counts)

    @property
    def doubled(self) -> int:
        return sum(n - 1 for n in self.counts.values() if n > 1)


async def collect_callbacks(receiver: CallbackReceiver, replies: Replies) -> None:
    """Match each signed callback to its message as it arrives (and keep the fake's log short).

    A callback is ours when ``in_reply_to`` is ``m-<k>`` and its text is the answer to ``k``.
    """
    while True:
        with contextlib.suppress(TimeoutError):
            await receiver.wait_for(1, timeout=60)
        now = time.perf_counter()
        for body in receiver.received:
            k = number_of(body.get("text"))
            ours = k is not None and body.get("in_reply_to") == f"m-{k}"
            replies.arrived(k if ours else None, body.get("session_id"), now)
        receiver.received.clear()
        receiver.headers.clear()


async def collect_telegram(tg: FakeTelegram, replies: Replies, run: Run) -> None:
    """Match each message the bot sent to its update as it arrives; count failed deliveries.

    The fake is reset after each look, so its logs stay short over a long run.
    """
    while True:
        with contextlib.suppress(TimeoutError):
            await tg.wait_for(lambda: tg.sent or tg.deliveries, timeout=60)
        now = time.perf_counter()
        for message in tg.sent:
            replies.arrived(number_of(message.get("text")), message["chat"]["id"], now)
        for delivery in tg.deliveries:
            if delivery.error is not None:
                run.fail(f"webhook delivery failed: {delivery.error}"[:100])
        for _update in tg.dropped_updates:
            run.fail("update dropped after Telegram's last re-delivery")
        tg.reset()


# --------------------------------------------------------------------------- the channels


class Channels:
    """One timed send per channel, each recording into its own ``Run``."""

    def __init__(
        self, http: aiohttp.ClientSession, url: str, tg: FakeTelegram, reply_timeout: float
    ) -> None:
        self.http = http
        self.url = url
        self.tg = tg
        self.reply_timeout = reply_timeout
        self.runs = {name: Run() for name in SHARES}
        self.replies = {name: Replies() for name in ASYNC_CHANNELS}

    def sender(self, channel: str) -> Send:
        sends: dict[str, Send] = {
            "webhook": self.webhook,
            "telegram": self.telegram,
            "rest": self.rest,
            "openai": self.openai,
            "openai-stream": self.openai_stream,
        }
        return sends[channel]

    def done(self) -> int:
        return sum(len(r.latencies) + r.errors for r in self.runs.values())

    async def _await_reply(
        self, channel: str, k: int, future: asyncio.Future[float], started: float
    ) -> None:
        run = self.runs[channel]
        try:
            arrived = await asyncio.wait_for(future, self.reply_timeout)
        except TimeoutError:
            self.replies[channel].forget(k)
            run.fail(f"no answer within {self.reply_timeout:g} s")
            return
        run.answered(started, arrived - started)

    async def webhook(self, conversation: int, k: int) -> None:
        """``POST /api/v1/messages`` (202 once committed), then wait for its signed callback."""
        session = f"soak-w-{conversation}"
        future = self.replies["webhook"].expect(k, session)
        started = time.perf_counter()
        body = {"message_id": f"m-{k}", "session_id": session, "message": prompt(k)}
        try:
            async with self.http.post(f"{self.url}/api/v1/messages", json=body) as resp:
                raw = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.replies["webhook"].withdraw(k)
            self.runs["webhook"].fail(f"{type(exc).__name__}: {exc}"[:100])
            return
        if resp.status != 202:
            self.replies["webhook"].withdraw(k)
            self.runs["webhook"].fail(f"HTTP {resp.status}: {raw[:80].decode(errors='replace')}")
            return
        await self._await_reply("webhook", k, future, started)

    async def telegram(self, conversation: int, k: int) -> None:
        """A user's private message, pushed by the fake Bot API to the gateway's webhook; the
        answer is the bot's ``sendMessage`` to that chat."""
        chat = CHAT_BASE + conversation
        future = self.replies["telegram"].expect(k, chat)
        started = time.perf_counter()
        self.tg.user_message(chat, prompt(k))
        await self._await_reply("telegram", k, future, started)

    async def rest(self, conversation: int, k: int) -> None:
        body = {"session_id": f"soak-r-{conversation}", "message": prompt(k)}
        await self.runs["rest"].send(
            self.http,
            f"{self.url}/api/v1/chat",
            body,
            lambda got: isinstance(got, dict) and got.get("reply") == answer(k),
        )

    async def openai(self, conversation: int, k: int) -> None:
        await self.runs["openai"].send(
            self.http,
            f"{self.url}/v1/chat/completions",
            self._completion(conversation, k),
            lambda got: completion_text(got, "message") == answer(k),
        )

    def _completion(self, conversation: int, k: int, *, stream: bool = False) -> JSON:
        return {
            "model": "fake",
            "user": f"soak-o-{conversation}",
            "metadata": {"session_id": f"soak-o-{conversation}"},  # the remembered conversation
            "stream": stream,
            "messages": [{"role": "user", "content": prompt(k)}],
        }

    async def openai_stream(self, conversation: int, k: int) -> None:
        """``stream: true``: timed to ``data: [DONE]``; the deltas must add up to the answer."""
        run = self.runs["openai-stream"]
        started = time.perf_counter()
        pieces: list[str] = []
        finished = False
        try:
            async with self.http.post(
                f"{self.url}/v1/chat/completions",
                json=self._completion(conversation, k, stream=True),
            ) as resp:
                if resp.status != 200:
                    raw = await resp.read()
                    run.fail(f"HTTP {resp.status}: {raw[:80].decode(errors='replace')}")
                    return
                async for line in resp.content:
                    if not line.startswith(b"data: "):
                        continue
                    data = line[6:].strip()
                    if data == b"[DONE]":
                        finished = True
                        break
                    chunk = orjson.loads(data)
                    if isinstance(chunk, dict) and "error" in chunk:
                        run.fail(f"stream error: {str(chunk['error'])[:80]}")
                        return
                    pieces.append(completion_text(chunk, "delta") or "")
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            run.fail(f"{type(exc).__name__}: {exc}"[:100])
            return
        if not finished:
            run.fail("stream ended without data: [DONE]")
        elif "".join(pieces) != answer(k):
            run.fail(f"wrong streamed answer: {''.join(pieces)[:60]!r}")
        else:
            run.answered(started, time.perf_counter() - started)


def plan_workers(concurrency: int, conversations: int) -> list[tuple[str, list[int]]]:
    """The client workers: each a channel and the conversations it alone uses.

    Each channel gets its ``SHARES`` of the workers (at least one); the conversations are dealt
    round-robin over all workers, so no conversation is used by two workers at once (the gateway
    serialises a conversation: sharing would measure that queue).
    """
    channels = [
        name for name, share in SHARES.items() for _ in range(max(1, round(concurrency * share)))
    ]
    return [(name, list(range(i, conversations, len(channels)))) for i, name in enumerate(channels)]


# --------------------------------------------------------------------------- figures & verdict


@dataclass
class ChannelFigures:
    name: str
    answered: int
    errors: int
    messages_per_s: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    max_ms: float | None


@dataclass
class ExactlyOnce:
    """For an asynchronous channel: messages accepted, and answers missing / extra / stray."""

    name: str
    sent: int
    missing: int
    doubled: int
    stray: int

    @property
    def ok(self) -> bool:
        return self.sent > 0 and self.missing == self.doubled == self.stray == 0


@dataclass
class Figures:
    """Everything the report shows; ``--json`` writes exactly this."""

    messages: int
    concurrency: int
    conversations: int
    max_turns: int
    storage: str
    redis: bool
    cpu_count: int | None
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    wall_s: float
    idle_rss_mb: float
    samples: list[tuple[float, float, int]]  # (seconds into the load, RSS MB, messages done)
    channels: list[ChannelFigures]
    total: ChannelFigures
    error_kinds: list[tuple[str, str, int]]  # (channel, kind, count)
    exactly_once: list[ExactlyOnce]
    gateway_cpu_s: float
    checks: list[tuple[str, str, bool]] = field(default_factory=list)
    gc: GcPauses | None = None  # read once the gateway has stopped (bench/gc_probe.py)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(ok for _, _, ok in self.checks)


def plateau_mb(samples: list[tuple[float, float, int]], wall: float) -> float:
    """The median RSS of the samples taken 20–40 % into the load: by then imports, pools and
    caches have grown, and a leak still has most of the run to show itself. With no sample in
    that window (a very short run), the sample nearest to 30 %."""
    low, high = (wall * f for f in PLATEAU_WINDOW)
    window = [rss for t, rss, _ in samples if low <= t <= high]
    if window:
        return statistics.median(window)
    middle = wall * sum(PLATEAU_WINDOW) / 2
    return min(samples, key=lambda s: abs(s[0] - middle))[1]


def judge(figures: Figures) -> list[tuple[str, str, bool]]:
    """The soak's verdict, as (check, detail, passed) rows."""
    plateau, end = plateau_mb(figures.samples, figures.wall_s), figures.samples[-1][1]
    growth = end / plateau - 1
    checks = [
        (
            f"RSS at the end ≤ plateau + {RSS_TOLERANCE:.0%}",
            f"idle {figures.idle_rss_mb:,.1f} → plateau {plateau:,.1f} → end {end:,.1f} MB "
            f"({growth:+.1%})",
            growth <= RSS_TOLERANCE,
        )
    ]
    for once in figures.exactly_once:
        checks.append(
            (
                f"{once.name}: every message answered exactly once",
                f"{once.sent:,} sent, {once.missing} unanswered, {once.doubled} extra, "
                f"{once.stray} stray",
                once.ok,
            )
        )
    checks.append(
        ("no errors on any channel", f"{figures.total.errors:,} errors", figures.total.errors == 0)
    )
    return checks


def filling_note(f: Figures) -> str | None:
    """A warning when the conversations' memory cannot be full by the plateau window.

    Each conversation remembers ``max_turns`` exchanges, so the gateway's memory grows, by
    design, until about conversations × max_turns messages have been sent; a plateau taken
    before that reads bounded filling as a leak.
    """
    to_fill, before = f.conversations * f.max_turns, f.messages * PLATEAU_WINDOW[0]
    if to_fill <= before:
        return None
    return (
        f"{f.conversations:,} conversations × {f.max_turns} turns = {to_fill:,} messages "
        f"fill the conversations' memory, more than the {before:,.0f} sent before the "
        "plateau window: memory still filling then reads as growth"
    )


def channel_figures(name: str, run: Run, wall: float) -> ChannelFigures:
    return ChannelFigures(
        name=name,
        answered=len(run.latencies),
        errors=run.errors,
        messages_per_s=len(run.latencies) / wall if wall else 0.0,
        p50_ms=percentile_ms(run.latencies, 50),
        p90_ms=percentile_ms(run.latencies, 90),
        p99_ms=percentile_ms(run.latencies, 99),
        max_ms=percentile_ms(run.latencies, 100),
    )


# --------------------------------------------------------------------------- orchestration


def gateway_extra(args: argparse.Namespace, port: int, callback_url: str, tg_url: str) -> JSON:
    """The config beyond the benchmark's: both asynchronous channels, the store, Redis."""
    extra: JSON = {
        "server": {"public_url": f"http://127.0.0.1:{port}"},
        "channels": {
            "webhook": {"callback_url": callback_url, "secret": CALLBACK_SECRET},
            "telegram": {
                "bot_token": TG_TOKEN,
                "api_base": tg_url,
                "mode": "webhook",
                "webhook_secret": TG_SECRET,
            },
        },
        "session": {"max_turns": args.max_turns},
        "policy": {"cache": {"enabled": True}},  # one more bounded cache under load
    }
    if args.storage_url:
        extra["storage"] = {"url": args.storage_url}
    if args.redis_url:
        extra["redis"] = {"url": args.redis_url}
    return extra


async def sample_rss(
    pid: int,
    every: float,
    start: float,
    done: Callable[[], int],
    samples: list[tuple[float, float, int]],
    status: Status | None,
    total: int,
) -> None:
    """Record the gateway's RSS every ``every`` seconds until cancelled (or the process ends)."""
    with contextlib.suppress(BenchError, FileNotFoundError, ProcessLookupError):
        while True:
            rss = rss_mb(pid)
            samples.append((time.perf_counter() - start, rss, done()))
            if status is not None:
                status.update(f"soaking… {done():,}/{total:,} messages, gateway RSS {rss:,.1f} MB")
            await asyncio.sleep(every)


async def soak(args: argparse.Namespace, tmp: Path, status: Status | None) -> Figures:
    """Start the fakes and the gateway, drive the load, and return the figures."""
    children: list[asyncio.subprocess.Process] = []
    connector = aiohttp.TCPConnector(limit=args.concurrency * 2)
    timeout = aiohttp.ClientTimeout(total=30)
    load_before = os.getloadavg()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(lambda: asyncio.gather(*(stop_process(p) for p in children)))
        http = await stack.enter_async_context(
            aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                json_serialize=lambda o: orjson.dumps(o).decode(),
            )
        )
        receiver = await stack.enter_async_context(CallbackReceiver(secret=CALLBACK_SECRET))
        tg = await stack.enter_async_context(FakeTelegram(token=TG_TOKEN, username="soak_bot"))
        fake_url = await start_fake(tmp / "fake.log", children)
        port = free_port()
        gateway, url, _ = await start_gateway(
            tmp,
            fake_url,
            http,
            children,
            port=port,
            extra=gateway_extra(args, port, receiver.url, tg.base_url),
            command=args.ai_bot,
            gc_pauses=tmp / "gc.json",
        )
        try:
            await tg.wait_for(lambda: tg.calls("setWebhook"), timeout=10)
        except TimeoutError:
            raise BenchError(
                f"the gateway never set its Telegram webhook: {tail(tmp / 'gateway.log')}"
            ) from None
        tg.reset()
        await asyncio.sleep(1.0)  # let imports, migrations and caches settle
        idle_rss = rss_mb(gateway.pid)
        cpu_before = cpu_seconds(gateway.pid)

        http.headers["Authorization"] = f"Bearer {API_KEY}"
        channels = Channels(http, url, tg, args.reply_timeout)
        samples: list[tuple[float, float, int]] = []
        start = time.perf_counter()
        background = [
            asyncio.create_task(collect_callbacks(receiver, channels.replies["webhook"])),
            asyncio.create_task(
                collect_telegram(tg, channels.replies["telegram"], channels.runs["telegram"])
            ),
            asyncio.create_task(
                sample_rss(
                    gateway.pid,
                    args.sample_every,
                    start,
                    channels.done,
                    samples,
                    status,
                    args.messages,
                )
            ),
        ]
        numbers: Iterator[int] = iter(range(args.messages))  # shared: the next message number

        async def worker(channel: str, conversations: list[int]) -> None:
            send, cycle = channels.sender(channel), itertools.cycle(conversations)
            for k in numbers:
                await send(next(cycle), k)

        plan = plan_workers(args.concurrency, args.conversations)
        try:
            await asyncio.gather(*(worker(name, convs) for name, convs in plan))
            wall = time.perf_counter() - start
            await asyncio.sleep(SETTLE)  # late answers and duplicates still count
            samples.append((time.perf_counter() - start, rss_mb(gateway.pid), channels.done()))
            gateway_cpu = cpu_seconds(gateway.pid) - cpu_before
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
        if gateway.returncode is not None:
            raise BenchError(
                f"the gateway exited with code {gateway.returncode} during the "
                f"soak: {tail(tmp / 'gateway.log')}"
            )
        bad_signatures = receiver.bad_signatures

    every = [l for r in channels.runs.values() for l in r.latencies]  # noqa: E741
    total_run = Run(latencies=every, errors=sum(r.errors for r in channels.runs.values()))
    exactly_once = [
        ExactlyOnce(
            name,
            len(r.expected),
            r.missing,
            r.doubled,
            r.stray + (bad_signatures if name == "webhook" else 0),
        )
        for name, r in channels.replies.items()
    ]
    figures = Figures(
        messages=args.messages,
        concurrency=len(plan),
        conversations=args.conversations,
        max_turns=args.max_turns,
        storage=(args.storage_url or "sqlite").split(":", 1)[0],
        redis=bool(args.redis_url),
        cpu_count=os.cpu_count(),
        load_before=load_before,
        load_after=os.getloadavg(),
        wall_s=wall,
        idle_rss_mb=idle_rss,
        samples=samples,
        channels=[channel_figures(name, run, wall) for name, run in channels.runs.items()],
        total=channel_figures("all", total_run, wall),
        error_kinds=sorted(
            (
                (name, kind, n)
                for name, run in channels.runs.items()
                for kind, n in run.error_kinds.items()
            ),
            key=lambda e: -e[2],
        ),
        exactly_once=exactly_once,
        gateway_cpu_s=gateway_cpu,
        gc=gc_pauses(tmp / "gc.json", list(channels.runs.values())),
    )
    figures.checks = judge(figures)
    return figures


# --------------------------------------------------------------------------- report


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def rss_rows(figures: Figures, rows: int = 15) -> list[tuple[float, float, int, str]]:
    """At most ``rows`` evenly spread samples (always the first and the last), each marked when
    it lies in the plateau window."""
    samples = figures.samples
    picks = sorted({round(i * (len(samples) - 1) / max(1, rows - 1)) for i in range(rows)})
    low, high = (figures.wall_s * f for f in PLATEAU_WINDOW)
    marked = []
    for index in picks:
        t, rss, done = samples[index]
        note = "plateau window" if low <= t <= high else ""
        if index == len(samples) - 1:
            note = f"end ({SETTLE:g} s after the last answer)"
        marked.append((t, rss, done, note))
    return marked


def report(f: Figures, console: Console) -> None:
    load = "/".join(f"{x:.2f}" for x in f.load_before)
    load_after = "/".join(f"{x:.2f}" for x in f.load_after)
    store = f.storage + (" + redis" if f.redis else "")
    console.print(
        f"[bold]ai-bot soak[/]: {f.messages:,} messages, {f.concurrency} concurrent clients, "
        f"{f.conversations:,} conversations (max_turns {f.max_turns}), {store}, "
        f"{f.cpu_count or '?'} CPUs shared by the client, the fake model and the gateway; "
        f"load average {load} before, {load_after} after (1/5/15 min)",
        highlight=False,
    )

    memory = Table(title=f"gateway RSS (VmRSS, MB) — idle before the load: {f.idle_rss_mb:,.1f}")
    for column in ("seconds", "RSS (MB)", "messages done", ""):
        memory.add_column(column, justify="left" if column == "" else "right")
    for t, rss, done, note in rss_rows(f):
        memory.add_row(f"{t:,.1f}", f"{rss:,.1f}", f"{done:,}", note)
    console.print(memory)

    per_message = f.gateway_cpu_s * 1000 / max(1, f.total.answered)
    latency = Table(
        title=f"latency per channel (ms, client side) over {f.wall_s:,.1f} s; "
        f"gateway CPU {f.gateway_cpu_s:,.1f} s ({per_message:.2f} ms/message)"
    )
    latency.add_column("channel", no_wrap=True, min_width=max(len(c) for c in SHARES))
    for column in ("answered", "errors", "msg/s", "p50", "p90", "p99", "max"):
        latency.add_column(column, justify="right")
    for c in [*f.channels, f.total]:
        latency.add_row(
            c.name,
            f"{c.answered:,}",
            f"{c.errors:,}",
            f"{c.messages_per_s:,.1f}",
            _ms(c.p50_ms),
            _ms(c.p90_ms),
            _ms(c.p99_ms),
            _ms(c.max_ms),
            style="bold" if c is f.total else None,
        )
    console.print(latency)

    if f.error_kinds:
        errors = Table(title="errors by kind")
        for column in ("channel", "count", "kind"):
            errors.add_column(column, justify="right" if column == "count" else "left")
        for name, kind, n in f.error_kinds:
            errors.add_row(name, f"{n:,}", escape(kind))
        console.print(errors)

    verdict = Table(title="verdict (plateau = median RSS of the samples 20–40 % into the load)")
    for column in ("check", "measured", ""):
        verdict.add_column(column)
    for check, detail, ok in f.checks:
        verdict.add_row(check, detail, "[green]✓[/]" if ok else "[red]✗[/]")
    console.print(verdict)
    if f.gc is not None:
        console.print(f"garbage collector: {f.gc.summary()}", highlight=False)
    if (fill := filling_note(f)) is not None:
        console.print(f"[yellow]note:[/] {fill}", highlight=False)
    console.print("[bold green]PASS[/]" if f.passed else "[bold red]FAIL[/]")


# --------------------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Soak ai-bot with mixed channels and watch its memory."
    )
    parser.add_argument(
        "--messages", type=int, help=f"messages to send (default {FULL_MESSAGES:,})"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"a short run: {QUICK_MESSAGES:,} messages unless --messages says",
    )
    parser.add_argument(
        "--concurrency", type=int, default=40, help="client workers, shared out over the channels"
    )
    parser.add_argument(
        "--conversations",
        type=int,
        help="distinct conversations (default: as many as fill their memory in "
        f"the first {PLATEAU_WINDOW[0] * 100:.0f}%% of the run, at most "
        f"{MAX_CONVERSATIONS:,}; the gateway caches 2,000)",
    )
    parser.add_argument(
        "--max-turns",
        type=int,
        default=5,
        help="session.max_turns: exchanges each conversation remembers",
    )
    parser.add_argument(
        "--sample-every", type=float, default=1.0, help="seconds between RSS samples"
    )
    parser.add_argument(
        "--reply-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for a webhook/Telegram answer",
    )
    parser.add_argument(
        "--storage-url",
        help="store URL (default: SQLite in a temp dir); give an empty PostgreSQL database",
    )
    parser.add_argument("--redis-url", help="Redis URL for shared state (default: none)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument(
        "--ai-bot", type=Path, help="the ai-bot command to soak (default: the one beside Python)"
    )
    args = parser.parse_args(argv)
    if args.messages is None:
        args.messages = QUICK_MESSAGES if args.quick else FULL_MESSAGES
    if min(args.messages, args.concurrency, args.max_turns) < 1 or args.sample_every <= 0:
        parser.error(
            "--messages, --concurrency and --max-turns must be at least 1, --sample-every > 0"
        )
    workers = len(plan_workers(args.concurrency, 0))
    if args.conversations is None:
        args.conversations = max(
            workers,
            min(MAX_CONVERSATIONS, round(args.messages * PLATEAU_WINDOW[0] / args.max_turns)),
        )
    if args.conversations < workers:
        parser.error(f"--conversations must be at least the number of workers ({workers})")
    return args


async def amain(args: argparse.Namespace, console: Console) -> Figures:
    """Soak in a temporary directory, stopped cleanly by Ctrl-C or SIGTERM."""
    cancel_on_sigterm()
    with (
        tempfile.TemporaryDirectory(prefix="ai-bot-soak-") as tmp,
        console.status("starting…") as status,
    ):
        return await soak(args, Path(tmp), status)


def main(argv: list[str] | None = None) -> int:
    """0 when the verdict passes, 1 when it fails, 2 when the soak could not run."""
    args = parse_args(argv)
    console = Console()
    figures = run_reported(amain(args, console), console, error_code=2)
    if isinstance(figures, int):
        return figures
    report(figures, console)
    write_json(args.json, {**asdict(figures), "passed": figures.passed})
    return 0 if figures.passed else 1


if __name__ == "__main__":
    sys.exit(main())
