"""Benchmark the gateway end to end against the OpenAI fake, and report it against the targets.

Why this shape: the figures that matter to a self-hoster are what one box sustains over the
real HTTP path (API → pipeline → store → provider client → model) and what the gateway adds on
top of the model's own latency. So the model is the loopback fake answering instantly, the fake
alone is measured first as the baseline, and the gateway is measured as a separate process
(cold start, memory, CPU) exactly as `ai-bot run` starts in production.

    .venv/bin/python bench/run.py [--concurrency 50] [--messages 10000] [--conversations 500]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import itertools
import math
import os
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/run.py` too

from bench.gc_probe import GcPauses
from bench.scaleout import fresh_postgres, private_redis

REPO_ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key"
HEALTH_TIMEOUT = 90.0
STOP_GRACE = 5.0
MIB = 1024 * 1024

# The published targets (DESIGN: one box first): figure name → (comparison, bound).
TARGETS: dict[str, tuple[str, float]] = {
    "paced_added_p99_ms": ("<=", 20.0),
    "idle_rss_mb": ("<=", 80.0),
    "cold_start_s": ("<=", 0.5),
    "gc_pause_p999_ms": ("<=", 5.0),
}
GC_PROBE = REPO_ROOT / "bench" / "gc_probe.py"
IMPORT_PROBE = REPO_ROOT / "bench" / "import_probe.py"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

JSON = dict[str, Any]
T = TypeVar("T")
MakeBody = Callable[[int, int], JSON]  # (session number, message number) → request body
IsOk = Callable[[Any], bool]  # decoded response JSON → was it a proper answer?
MakeHeaders = Callable[[int, int], dict[str, str]]  # (session, message number) → extra headers


class BenchError(Exception):
    """A failure the operator must fix (gateway missing, unhealthy...): one line, no traceback."""


# --------------------------------------------------------------------------- process helpers


def free_port() -> int:
    """A loopback port that was free a moment ago (the gateway binds it right after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (MiB), from ``VmRSS`` — no psutil needed."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / MIB
    raise BenchError(f"no VmRSS for pid {pid} (has it exited?)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used so far, from ``/proc/<pid>/stat``."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the name may contain spaces; skip past it
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` of a child's log, to say why it failed."""
    try:
        text = path.read_text(errors="replace").strip()
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def child_env() -> dict[str, str]:
    """The environment for children: loopback must never go through a configured proxy."""
    return {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PYTHONUNBUFFERED": "1"}


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, then SIGKILL after a grace period: no child may outlive the benchmark."""
    if proc.returncode is not None:
        return
    try:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        except TimeoutError:
            proc.kill()
            await proc.wait()
    except ProcessLookupError:
        pass


async def stop_all(children: list[asyncio.subprocess.Process]) -> None:
    await asyncio.gather(*(stop_process(p) for p in children))


async def start_ready(
    argv: list[str], log: Path, children: list[asyncio.subprocess.Process], what: str
) -> tuple[asyncio.subprocess.Process, str]:
    """Start a child that prints `ready <base_url>` (added to ``children`` at once)."""
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            cwd=REPO_ROOT,
            env=child_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
        )
    children.append(proc)
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), HEALTH_TIMEOUT)
    except TimeoutError:
        line = b""
    words = line.decode().split()
    if len(words) != 2 or words[0] != "ready":
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 1)
        state = "still running" if proc.returncode is None else f"exit code {proc.returncode}"
        raise BenchError(f"{what} did not start ({state}): {tail(log)}")
    return proc, words[1]


async def start_fake(log: Path, children: list[asyncio.subprocess.Process]) -> str:
    """Start the OpenAI fake (added to ``children`` at once) and return its base URL."""
    argv = ["-m", "tests.fakes.openai_server", "--port", "0", "--latency-ms", "0"]
    return (await start_ready(argv, log, children, "the OpenAI fake"))[1]


def write_config(tmp: Path, port: int, fake_url: str, extra: JSON | None = None) -> Path:
    """The gateway config: everything on loopback, SQLite under the temp dir, one fake provider.

    ``extra`` adds sections, or keys to a section (``{"server": {"public_url": ...}}``), for
    harnesses that need more than the API (``bench/soak.py``). JSON is valid YAML, so the file
    is written as JSON and any path or URL is quoted correctly.
    """
    config: JSON = {
        "server": {"host": "127.0.0.1", "port": port},
        # In data/, as the default `sqlite:///data/ai-bot.db` lays it out: the config watcher
        # watches config.yaml's folder, and a database there woke it on every commit.
        "storage": {"url": f"sqlite:///{tmp}/data/bench.db"},
        "channels": {"api": {"keys": [API_KEY]}},
        "models": {
            "default": "fake",
            "providers": {"fake": {"base_url": fake_url, "api_key": "x", "model": "fake-model"}},
        },
        "logging": {"level": "warning"},
    }
    for section, value in (extra or {}).items():
        config[section] = {**config.get(section, {}), **value}
    path = tmp / "config.yaml"
    path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    return path


async def start_gateway(
    tmp: Path,
    fake_url: str,
    http: aiohttp.ClientSession,
    children: list[asyncio.subprocess.Process],
    *,
    port: int | None = None,
    extra: JSON | None = None,
    command: Path | None = None,
    gc_pauses: Path | None = None,
    import_times: Path | None = None,
) -> tuple[asyncio.subprocess.Process, str, float]:
    """Start ``ai-bot run`` (added to ``children`` at once); time it until ``/healthz`` is 200.

    ``port`` (default: a free one) and ``extra`` (see ``write_config``) shape the config;
    ``command`` is the ``ai-bot`` to start (default: the one beside this Python), so another
    build can be measured with the same driver. With ``gc_pauses`` it runs under
    ``bench/gc_probe.py``, which writes every garbage collection's pause there at exit; with
    ``import_times`` under ``bench/import_probe.py``, which writes every module's import CPU.
    """
    command = command or Path(sys.executable).parent / "ai-bot"
    if not command.exists():
        raise BenchError(f"{command} not found: install the project first (pip install -e .)")
    port = port or free_port()
    config = write_config(tmp, port, fake_url, extra)
    log = tmp / "gateway.log"
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    argv: list[str | Path] = [command, "run", "-c", str(config)]
    if gc_pauses is not None:
        argv = [command.parent / "python", GC_PROBE, gc_pauses, *argv[1:]]
    elif import_times is not None:
        argv = [command.parent / "python", IMPORT_PROBE, import_times, *argv[1:]]
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=tmp, env=child_env(), stdout=out, stderr=out
        )
    children.append(proc)
    deadline = started + HEALTH_TIMEOUT
    while time.perf_counter() < deadline:
        if proc.returncode is not None:
            raise BenchError(
                f"gateway exited with code {proc.returncode} before becoming healthy: {tail(log)}"
            )
        try:
            async with http.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                if r.status == 200:
                    return proc, url, time.perf_counter() - started
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(0.01)
    raise BenchError(f"gateway did not become healthy within {HEALTH_TIMEOUT:g} s: {tail(log)}")


# --------------------------------------------------------------------------- load


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
) -> Run:
    """Send ``count`` requests from ``concurrency`` workers and time each one.

    Worker i owns conversations i, i+C, i+2C... and cycles through them, so no conversation is
    ever used by two workers at once (the gateway serialises a session; sharing would measure
    queueing, not throughput). Messages are numbered from ``first`` so every one is distinct.
    Several ``url``s (replicas) take message k in turn, k modulo their number, as a balancer
    without affinity would: a conversation's next message may land on another replica.
    """
    run = Run()
    numbers = iter(range(first, first + count))  # shared: each worker takes the next number
    urls = [url] if isinstance(url, str) else url

    async def worker(i: int) -> None:
        sessions = itertools.cycle(range(i, conversations, concurrency))
        for k in numbers:
            session = next(sessions)
            headers = make_headers(session, k) if make_headers else None
            await run.send(http, urls[k % len(urls)], make_body(session, k), is_ok, headers)

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
    if not latencies:
        return None
    ordered = sorted(latencies)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)] * 1000


# --------------------------------------------------------------------------- orchestration


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
            for mode in modes:
                hello, load = await measure(
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
                            {
                                "make_body": mode.make_body,
                                "is_ok": mode.is_ok,
                                "make_headers": mode.make_headers,
                            },
                        ),
                    ],
                    args,
                )
                paths.append(path_figures(mode, load, hello, fake_p99))
                served.append(load.run)

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
    )


def gc_pause_row(pauses: GcPauses | None) -> tuple[str, str, str]:
    """Value, target text and mark of the GC pause figure. No collection while serving is said
    as such: no pause was measured, so the target is neither met nor missed. Over too few
    collections for a p99.9 of its own the value says it is the longest of how many."""
    if pauses is not None and not pauses.serving_collections:
        return "no collection while serving", target_text(*TARGETS["gc_pause_p999_ms"]), ""
    p999 = pauses.p999_ms if pauses else None
    value = fmt(p999)
    if pauses is not None and pauses.p999_is_max:
        value += f" (the max of {pauses.serving_collections:,})"
    return value, *verdict("gc_pause_p999_ms", p999)


def gc_pauses(path: Path, served: list[Run]) -> GcPauses | None:
    """The gateway's collections while serving, with how many of the ``served`` messages were
    in flight while one ran."""
    pauses = GcPauses.read(path)
    if pauses is not None:
        for run in served:
            pauses.count_met(run.starts, run.latencies)
    return pauses


# --------------------------------------------------------------------------- report


def verdict(name: str, value: float | None) -> tuple[str, str]:
    """The target text and a ✓/✗ for a figure that has a target."""
    if name not in TARGETS:
        return "", ""
    return bounded(value, *TARGETS[name])


def target_text(op: str, bound: float) -> str:
    return f"{'≥' if op == '>=' else '≤'} {bound:g}"


def bounded(value: float | None, op: str, bound: float) -> tuple[str, str]:
    text = target_text(op, bound)
    if value is None:
        return text, "[red]✗[/]"
    met = value >= bound if op == ">=" else value <= bound
    return text, "[green]✓[/]" if met else "[red]✗[/]"


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def paths_table(f: Figures) -> Table:
    """Each path beside the bare uvicorn hello measured just before it."""
    gateways = f"{f.replicas} replicas (CPU ms/msg: all of them)" if f.replicas else "gateway"
    table = Table(
        title=f"{f.messages:,} messages per path, {f.concurrency} concurrent, "
        f"{f.cpu_count or '?'} CPUs shared by client, fake, hello and {gateways}"
    )
    columns = (
        "path",
        "msg/s",
        "hello msg/s",
        "× hello",
        "CPU ms/msg",
        "busy CPU ms/msg",
        "hello CPU ms/msg",
        "p50 / p99 ms",
        "added p99 ms",
        "errors",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "path" else "right")
    for p in f.paths:
        fraction = f"{p.fraction_of_hello:.3f}"
        if p.min_fraction is not None:
            fraction += " " + bounded(p.fraction_of_hello, ">=", p.min_fraction)[1]
        cpu = fmt(p.cpu_ms_per_message, 3)
        if p.max_cpu_ms is not None:
            cpu += " " + bounded(p.cpu_ms_per_message, "<=", p.max_cpu_ms)[1]
        added = fmt(p.added_p99_ms) + " " + bounded(p.added_p99_ms, "<=", 50.0)[1]
        table.add_row(
            p.name,
            fmt(p.messages_per_s, 0),
            fmt(p.hello_per_s, 0),
            fraction,
            cpu,
            fmt(p.busy_cpu_ms_per_message, 3),
            fmt(p.hello_cpu_ms_per_message, 3),
            f"{fmt(p.p50_ms)} / {fmt(p.p99_ms)}",
            added,
            str(p.errors),
        )
    return table


def report(figures: Figures, console: Console) -> None:
    f = figures
    console.print(paths_table(f))
    table = Table(title="the rest of the figures")
    for column in ("figure", "value", "target", ""):
        table.add_column(column, justify="right" if column == "value" else "left")
    rows: list[tuple[str, str, str | None]] = [
        ("fake alone p50 / p99 (ms)", f"{fmt(f.fake_p50_ms)} / {fmt(f.fake_p99_ms)}", None),
        (
            f"gateway-added p50 / p99 (ms) at {f.paced_rate:g} msg/s paced ({f.paced_path})",
            f"{fmt(f.paced_added_p50_ms)} / {fmt(f.paced_added_p99_ms)}",
            "paced_added_p99_ms",
        ),
        ("idle RSS (MB)", fmt(f.idle_rss_mb), "idle_rss_mb"),
        ("RSS after load (MB)", fmt(f.loaded_rss_mb), None),
        ("cold start (s)", fmt(f.cold_start_s, 2), "cold_start_s"),
    ]
    for label, value, target in rows:
        text, mark = verdict(target, getattr(f, target)) if target else ("", "")
        table.add_row(label, value, text, mark)
    table.add_row("GC pause p99.9 over collections while serving (ms, wall)", *gc_pause_row(f.gc))
    if f.gc is not None:
        table.add_row("measured messages that met a GC pause", f.gc.met_text(), "", "")
    console.print(table)
    if f.gc is not None:
        console.print(f"garbage collector: {f.gc.summary()}")
    for p in f.paths:
        for kind, n in p.error_kinds.items():
            console.print(f"[red]{p.name}: {n} × {escape(kind)}[/]")


# --------------------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark ai-bot against the OpenAI fake.")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrent workers")
    parser.add_argument("--messages", type=int, default=10_000, help="measured messages")
    parser.add_argument("--conversations", type=int, default=500, help="distinct session ids")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured messages first")
    parser.add_argument(
        "--baseline-requests", type=int, default=2_000, help="requests sent to the fake alone"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=250.0,
        help="offered messages/s for the paced (open-loop) latency phase",
    )
    parser.add_argument(
        "--paced-seconds", type=float, default=10.0, help="length of the paced phase"
    )
    parser.add_argument(
        "--endpoint",
        choices=("rest", "openai"),
        default="rest",
        help="rest: POST /api/v1/chat; openai: POST /v1/chat/completions",
    )
    parser.add_argument(
        "--modes",
        help="comma-separated paths to load, each after the bare hello reference: new (a new "
        "conversation per message), reused (--conversations conversations), stateless (openai "
        "only); default new,reused (openai: new,reused,stateless)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="blocks each path's messages are split into, alternating with the hello app",
    )
    parser.add_argument(
        "--ai-bot",
        type=Path,
        help="the ai-bot command to measure (default: the one beside this Python), for A/B "
        "runs of two builds with the same driver",
    )
    parser.add_argument(
        "--storage-url",
        help="the store to measure (default: SQLite in the temp dir), e.g. "
        "postgresql://postgres@127.0.0.1/bench or mysql://root@127.0.0.1:3306/bench: "
        "an empty database, created beforehand",
    )
    parser.add_argument(
        "--fresh-postgres",
        nargs="?",
        const=PG_ADMIN_URL,
        metavar="ADMIN_URL",
        help="a new database for this run on that PostgreSQL server (default "
        f"{PG_ADMIN_URL}), dropped at the end; instead of --storage-url",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="scale-out mode: N gateways sharing the PostgreSQL store and a Redis, the load "
        "spread over them message by message; CPU is summed over the replicas (default 0: "
        "one process, no Redis)",
    )
    parser.add_argument(
        "--redis-url", help="the Redis of --replicas (default: a private redis-server)"
    )
    parser.add_argument(
        "--encrypt", action="store_true", help="storage.encryption on (a fresh random key)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    if min(args.concurrency, args.messages, args.baseline_requests, args.rounds) < 1:
        parser.error("--concurrency, --messages, --baseline-requests, --rounds must be ≥ 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    if args.conversations < args.concurrency:
        parser.error("--conversations must be at least --concurrency (one session per worker)")
    shared = args.fresh_postgres or (args.storage_url or "").startswith("postgresql")
    if args.replicas < 0 or (args.replicas and not shared):
        parser.error("--replicas needs a PostgreSQL store (--fresh-postgres or --storage-url)")
    args.modes = (args.modes or DEFAULT_MODES[args.endpoint]).split(",")
    unknown = [m for m in args.modes if (args.endpoint, m) not in MODES]
    if unknown:
        parser.error(f"--modes: {', '.join(unknown)} is not a path of --endpoint {args.endpoint}")
    return args


async def store_config(
    args: argparse.Namespace, tmp: Path, stack: contextlib.AsyncExitStack
) -> JSON | None:
    """The `storage:` (and with replicas `redis:`) keys the options ask for, on top of the
    default SQLite file: a fresh PostgreSQL database and a private Redis are made here and
    removed when ``stack`` closes."""
    storage: JSON = {}
    extra: JSON = {}
    if args.fresh_postgres:
        storage["url"] = await stack.enter_async_context(fresh_postgres(args.fresh_postgres))
    elif args.storage_url:
        storage["url"] = args.storage_url
    if args.encrypt:
        storage["encryption"] = {"key": base64.b64encode(os.urandom(32)).decode()}
    if args.replicas:
        redis_url = args.redis_url or await stack.enter_async_context(
            private_redis(free_port(), tmp / "redis.log")
        )
        extra["redis"] = {"url": redis_url}
    if storage:
        extra["storage"] = storage
    return extra or None


def cancel_on_sigterm() -> None:
    """SIGTERM cancels the running task like Ctrl-C does, so its ``finally`` stops the children."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on uvloop when it is installed (the client must not be the bottleneck);
    plain asyncio works too."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def run_reported(coro: Coroutine[Any, Any, T], console: Console, *, error_code: int) -> T | int:
    """Runs ``coro`` for a command line: a BenchError is printed and becomes ``error_code``,
    an interrupt 130; otherwise the result comes back for the caller to report."""
    try:
        return run_async(coro)
    except BenchError as exc:
        console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return error_code
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("[yellow]interrupted[/]")
        return 130


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    """The figures as JSON too, when ``--json`` asked for them."""
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))


async def amain(args: argparse.Namespace, console: Console) -> Figures:
    """Run the benchmark in a temporary directory, stopped cleanly by Ctrl-C or SIGTERM."""
    cancel_on_sigterm()
    with (
        tempfile.TemporaryDirectory(prefix="ai-bot-bench-") as tmp,
        console.status("benchmarking…"),
    ):
        return await bench(args, Path(tmp))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=max(Console().width, 140))
    figures = run_reported(amain(args, console), console, error_code=1)
    if isinstance(figures, int):
        return figures
    report(figures, console)
    write_json(args.json, asdict(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
