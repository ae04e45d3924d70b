"""One benchmark run: each path measured beside the bare uvicorn hello, cold start, idle memory,
CPU per message and GC pauses, gathered into the figures the report reads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from bench.gc_probe import GcPauses
from bench.load import MODES, Mode, Run, any_ok, drive, fake_body, fake_ok, pace, percentile_ms
from bench.processes import (
    API_KEY,
    cpu_seconds,
    reference_config,
    rss_mb,
    start_fake,
    start_gateway,
    start_ready,
    stop_all,
    store_config,
)


@dataclass
class PathFigures:
    """One loaded path, beside the bare uvicorn hello measured just before it."""

    name: str
    messages_per_s: float
    hello_per_s: float
    fraction_of_hello: float
    cpu_ms_per_message: float | None
    busy_cpu_ms_per_message: float | None  # without the idle cost of the run's wall time
    hello_cpu_ms_per_message: float | None
    p50_ms: float | None
    p99_ms: float | None
    hello_p99_ms: float | None
    added_p99_ms: float | None  # p99 minus the fake alone's p99
    errors: int
    error_kinds: dict[str, int]
    max_cpu_ms: float | None
    min_fraction: float | None


@dataclass
class Figures:
    """Everything the report shows; ``--json`` writes exactly this."""

    concurrency: int
    messages: int
    conversations: int
    cpu_count: int | None
    replicas: int  # 0: one process without Redis; else gateways in scale-out mode
    affinity: bool  # each conversation's messages all on one replica (--affinity)
    paths: list[PathFigures]
    fake_p50_ms: float | None
    fake_p99_ms: float | None
    paced_path: str
    paced_rate: float
    paced_p99_ms: float | None
    paced_fake_p99_ms: float | None
    paced_added_p50_ms: float | None
    paced_added_p99_ms: float | None
    idle_rss_mb: float
    loaded_rss_mb: float
    cold_start_s: float
    gc: GcPauses | None
    # With --reference: each path on one process without Redis on its own fresh database of the
    # same PostgreSQL, measured in the same alternating blocks as the replicas.
    reference: list[PathFigures] | None = None
    # With --independent: each path on as many processes as replicas, each without Redis on a
    # fresh database of its own, the load spread over them as over the replicas.
    independent: list[PathFigures] | None = None


def minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


@dataclass
class Measured:
    """A closed-loop load on one process: its answers and the CPU that process spent, and
    what it spent while the other targets were loaded (its idle cost: background polls)."""

    run: Run
    cpu_s: float
    idle_cpu_s: float = 0.0
    idle_wall: float = 0.0

    @property
    def per_s(self) -> float:
        return len(self.run.latencies) / self.run.wall if self.run.wall else 0.0

    @property
    def cpu_ms(self) -> float | None:
        answered = len(self.run.latencies)
        return self.cpu_s * 1000 / answered if answered else None

    @property
    def busy_cpu_ms(self) -> float | None:
        """CPU per message without the idle cost of the time it took: on a loaded box a
        slower run spreads the same background polls over fewer messages, which CPU per
        message alone counts against the build."""
        answered = len(self.run.latencies)
        if not answered or not self.idle_wall:
            return None
        idle = self.idle_cpu_s / self.idle_wall * self.run.wall
        return (self.cpu_s - idle) * 1000 / answered


async def measure(
    http: aiohttp.ClientSession,
    targets: list[tuple[list[str], list[int], dict[str, Any]]],
    args: argparse.Namespace,
) -> list[Measured]:
    """Warm up each target (urls, pids, drive options), then send ``args.messages`` to each in
    ``args.rounds`` alternating blocks, timing the CPU of its processes (all replicas of one
    target together): on a shared machine the
    load of other programs changes by the second, and alternating blocks give each target the
    same share of it, so their ratio holds when the absolute figures do not."""
    common = {"concurrency": args.concurrency, "conversations": args.conversations}
    for url, _pid, kw in targets:
        await drive(http, url, count=args.warmup, **common, **kw)
    totals = [Measured(Run(), 0.0) for _ in targets]
    first, block = args.warmup, math.ceil(args.messages / args.rounds)
    while first < args.warmup + args.messages:
        count = min(block, args.warmup + args.messages - first)
        for (url, _, kw), total in zip(targets, totals, strict=True):
            before = [sum(map(cpu_seconds, pids)) for _, pids, _ in targets]
            run = await drive(http, url, count=count, first=first, **common, **kw)
            total.run.add(run)
            for (_, others, _), other, was in zip(targets, totals, before, strict=True):
                spent = sum(map(cpu_seconds, others)) - was
                if other is total:
                    total.cpu_s += spent
                else:
                    other.idle_cpu_s += spent
                    other.idle_wall += run.wall
        first += count
    return totals


def path_figures(
    mode: Mode, load: Measured, hello: Measured, fake_p99: float | None
) -> PathFigures:
    p99 = percentile_ms(load.run.latencies, 99)
    return PathFigures(
        name=mode.name,
        messages_per_s=load.per_s,
        hello_per_s=hello.per_s,
        fraction_of_hello=load.per_s / hello.per_s if hello.per_s else 0.0,
        cpu_ms_per_message=load.cpu_ms,
        busy_cpu_ms_per_message=load.busy_cpu_ms,
        hello_cpu_ms_per_message=hello.cpu_ms,
        p50_ms=percentile_ms(load.run.latencies, 50),
        p99_ms=p99,
        hello_p99_ms=percentile_ms(hello.run.latencies, 99),
        added_p99_ms=minus(p99, fake_p99),
        errors=load.run.errors,
        error_kinds=dict(load.run.error_kinds.most_common(5)),
        max_cpu_ms=mode.max_cpu_ms,
        min_fraction=mode.min_fraction,
    )


async def bench(args: argparse.Namespace, tmp: Path) -> Figures:
    """Run every step, always stopping every child, and return the figures.

    Each gateway path is measured in blocks alternating with the bare hello app, so the
    fraction compares two loads that shared the machine's ups and downs.
    """
    children: list[asyncio.subprocess.Process] = []
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    common = {"concurrency": args.concurrency, "conversations": args.conversations}
    modes = [MODES[args.endpoint, name] for name in args.modes]
    try:
        async with (
            contextlib.AsyncExitStack() as stack,
            aiohttp.ClientSession(
                connector=connector,
                timeout=timeout,
                json_serialize=lambda o: orjson.dumps(o).decode(),
            ) as http,
        ):
            extra = await store_config(args, tmp, stack)
            stack.push_async_callback(stop_all, children)  # before the store and Redis go
            fake_url = await start_fake(tmp / "fake.log", children)
            hello_proc, hello_url = await start_ready(
                ["bench/hello.py", "--port", "0"], tmp / "hello.log", children, "the hello app"
            )
            gateways: list[asyncio.subprocess.Process] = []
            gateway_urls: list[str] = []
            starts: list[float] = []
            for i in range(max(1, args.replicas)):
                home = tmp / f"replica-{i}" if args.replicas > 1 else tmp
                home.mkdir(exist_ok=True)
                gateway, gateway_url, started_in = await start_gateway(
                    home,
                    fake_url,
                    http,
                    children,
                    extra=extra,
                    command=args.ai_bot,
                    gc_pauses=tmp / "gc.json" if i == 0 else None,
                )
                starts.append(started_in)
                gateways.append(gateway)
                gateway_urls.append(gateway_url)
            pids = [g.pid for g in gateways]
            # The references: one process, then (--independent) as many as replicas.
            one: list[tuple[list[str], list[int]]] = []
            groups = [["reference"], [f"independent-{i}" for i in range(args.replicas)]]
            for names in groups[: 2 if args.independent else 1 if args.reference else 0]:
                for name in names:
                    (tmp / name).mkdir()
                started = [
                    await start_reference(tmp / name, args, extra, stack, fake_url, http, children)
                    for name in names
                ]
                one.append(([url for _, url in started], [proc.pid for proc, _ in started]))
            await asyncio.sleep(1.0)  # let imports, migrations and caches settle
            idle_rss, cold_start = rss_mb(pids[0]), starts[0]

            direct = f"{fake_url}/chat/completions"
            kw: dict[str, Any] = {"make_body": fake_body, "is_ok": fake_ok, **common}
            await drive(http, direct, count=args.warmup, **kw)
            baseline = await drive(http, direct, count=args.baseline_requests, **kw)
            fake_p99 = percentile_ms(baseline.latencies, 99)
            paced_count = int(args.rate * args.paced_seconds)
            paced_base = await pace(http, direct, rate=args.rate, count=paced_count, **kw)

            http.headers["Authorization"] = f"Bearer {API_KEY}"  # the hello app ignores it
            paths, served = [], []  # served: the measured loads on the gateway
            reference: list[PathFigures] = []
            independent: list[PathFigures] = []
            for mode in modes:
                gateway_kw = {
                    "make_body": mode.make_body,
                    "is_ok": mode.is_ok,
                    "make_headers": mode.make_headers,
                }
                hello, load, *alone = await measure(
                    http,
                    [
                        (
                            [hello_url],
                            [hello_proc.pid],
                            {"make_body": mode.make_body, "is_ok": any_ok},
                        ),
                        (
                            [url + mode.path for url in gateway_urls],
                            pids,
                            {**gateway_kw, "affinity": args.affinity},
                        ),
                        *(
                            ([u + mode.path for u in us], ps, {**gateway_kw, "affinity": True})
                            for us, ps in one
                        ),
                    ],
                    args,
                )
                paths.append(path_figures(mode, load, hello, fake_p99))
                served.append(load.run)
                for figures, a in zip((reference, independent), alone, strict=False):
                    figures.append(path_figures(mode, a, hello, fake_p99))

            first = modes[0]
            paced = await pace(
                http,
                gateway_urls[0] + first.path,
                rate=args.rate,
                count=paced_count,
                first=args.warmup + args.messages,
                make_body=first.make_body,
                is_ok=first.is_ok,
                make_headers=first.make_headers,
                **common,
            )
            served.append(paced)
            loaded_rss = rss_mb(pids[0])
    finally:
        await stop_all(children)

    return Figures(
        concurrency=args.concurrency,
        messages=args.messages,
        conversations=args.conversations,
        cpu_count=os.cpu_count(),
        replicas=args.replicas,
        affinity=args.affinity,
        paths=paths,
        fake_p50_ms=percentile_ms(baseline.latencies, 50),
        fake_p99_ms=fake_p99,
        paced_path=first.name,
        paced_rate=args.rate,
        paced_p99_ms=percentile_ms(paced.latencies, 99),
        paced_fake_p99_ms=percentile_ms(paced_base.latencies, 99),
        paced_added_p50_ms=minus(
            percentile_ms(paced.latencies, 50), percentile_ms(paced_base.latencies, 50)
        ),
        paced_added_p99_ms=minus(
            percentile_ms(paced.latencies, 99), percentile_ms(paced_base.latencies, 99)
        ),
        idle_rss_mb=idle_rss,
        loaded_rss_mb=loaded_rss,
        cold_start_s=cold_start,
        gc=gc_pauses(tmp / "gc.json", served),
        reference=reference or None,
        independent=independent or None,
    )


async def start_reference(
    home: Path,
    args: argparse.Namespace,
    replicas: dict[str, Any] | None,
    stack: contextlib.AsyncExitStack,
    fake_url: str,
    http: aiohttp.ClientSession,
    children: list[asyncio.subprocess.Process],
) -> tuple[asyncio.subprocess.Process, str]:
    """One process of a reference (`reference_config`), in `home` (made for it)."""
    proc, url, _ = await start_gateway(
        home,
        fake_url,
        http,
        children,
        extra=await reference_config(args, replicas, stack),
        command=args.ai_bot,
    )
    return proc, url


def gc_pauses(path: Path, served: list[Run]) -> GcPauses | None:
    """The gateway's collections while serving, with how many of the ``served`` messages were
    in flight while one ran."""
    pauses = GcPauses.read(path)
    if pauses is not None:
        for run in served:
            pauses.count_met(run.starts, run.latencies)
    return pauses
