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

The parts: soak_traffic (channels, workers, replies), soak_figures (figures and verdict),
soak_report (tables); this file starts the processes, drives the load and samples RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/soak.py` too

import aiohttp
import orjson
from bench.load import Run
from bench.measure import gc_pauses
from bench.processes import (
    API_KEY,
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
from bench.soak_figures import (
    ExactlyOnce,
    Figures,
    channel_figures,
    judge,
    sample_rss,
)
from bench.soak_report import report
from bench.soak_traffic import (
    CALLBACK_SECRET,
    MAX_CONVERSATIONS,
    PLATEAU_WINDOW,
    SETTLE,
    TG_TOKEN,
    Channels,
    collect_callbacks,
    collect_telegram,
    gateway_extra,
    plan_workers,
)
from rich.console import Console
from rich.status import Status
from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.telegram_api import FakeTelegram

FULL_MESSAGES = 100_000
QUICK_MESSAGES = 5_000

# --------------------------------------------------------------------------- orchestration


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
