"""Cold start and idle memory of `ai-bot run`, over several starts, for one build or two.

`bench/run.py` takes one cold-start sample while its fake is still warming up; a start-up
figure needs several starts on their own, and an A/B comparison needs them interleaved so both
builds see the same load. Each start gets a fresh temporary directory (a new SQLite database,
so the migrations run as on a first start), the config of `bench/run.py`, and is timed from
spawning `ai-bot run` to the first 200 from `/healthz` (polled every 10 ms), with the CPU time
it used until then. Then at once its first REST message (POST /api/v1/chat to the fake model, a
new conversation, as `bench/run.py` sends them) is timed from the same spawn to its answer, with
the CPU time until then: a start that leaves work to the first message (an import, a build)
shows it there. 1 s after `/healthz` its resident memory is read (with that message answered:
+0.5 MB; `--no-message` leaves it out, for the idle gateway's as `bench/run.py` reads it), and it
is stopped. With `--fresh-postgres` each start gets a new PostgreSQL database instead (dropped
after it), so a start there creates its schema as a first start does.

    .venv/bin/python -m bench.coldstart [--starts 7] [--fresh-postgres]
    .venv/bin/python -m bench.coldstart --ai-bot /tmp/a/.venv/bin/ai-bot --ai-bot .venv/bin/ai-bot

Start-up CPU time is the steadiest of the three on a shared machine: wall time waits for
whatever else runs, CPU time mostly does not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/coldstart.py` too

import aiohttp
import orjson
from bench.load import gateway_ok, new_conversation_body
from bench.processes import (
    API_KEY,
    HEALTH_TIMEOUT,
    REPO_ROOT,
    BenchError,
    add_fresh_postgres,
    child_env,
    cpu_seconds,
    free_port,
    fresh_store,
    rss_mb,
    start_fake,
    start_gateway,
    stop_process,
)
from bench.report import TARGETS, bounded
from bench.run import cancel_on_sigterm, run_reported, write_json
from rich.console import Console
from rich.table import Table

SETTLE = 1.0  # seconds between healthy and the memory reading, as bench/run.py waits
# The floor: uvicorn alone, started as `ai-bot run` starts it (bench/hello.py answers any path).
HELLO = "bare uvicorn hello (bench/hello.py)"

# Does the build's Python find compiled bytecode for the gateway's modules? Without it every
# start compiles them from source (seconds, not the start-up being measured); pip compiles on
# install (the Docker image), `uv pip install` only with --compile-bytecode.
_BYTECODE_PROBE = (
    "import importlib.util, os, aibot.gateway.asgi as m;"
    "print(os.path.exists(importlib.util.cache_from_source(m.__file__)))"
)


@dataclass
class Build:
    """The starts of one `ai-bot` executable."""

    command: str
    bytecode: bool
    cold_start_s: list[float] = field(default_factory=list)
    start_cpu_s: list[float] = field(default_factory=list)
    first_answer_s: list[float] = field(default_factory=list)
    first_answer_cpu_s: list[float] = field(default_factory=list)
    idle_rss_mb: list[float] = field(default_factory=list)


def has_bytecode(command: Path) -> bool:
    python = command.parent / "python"
    probe = subprocess.run(
        [str(python), "-c", _BYTECODE_PROBE], capture_output=True, text=True, check=False
    )
    return probe.stdout.strip() == "True"


async def first_answer(
    build: Build, http: aiohttp.ClientSession, url: str, pid: int, healthy: float
) -> None:
    """The first REST message, sent as `/healthz` answered (at `healthy`, seconds from the
    spawn): from the spawn to its answer, and the CPU time until then."""
    sent = time.perf_counter()
    message, key = new_conversation_body(0, 0), {"Authorization": f"Bearer {API_KEY}"}
    async with http.post(f"{url}/api/v1/chat", json=message, headers=key) as response:
        body = await response.read()
    answered = time.perf_counter()
    if response.status != 200 or not gateway_ok(orjson.loads(body)):
        raise BenchError(f"the first message was answered {response.status}: {body[:200]!r}")
    build.first_answer_cpu_s.append(cpu_seconds(pid))
    build.first_answer_s.append(healthy + answered - sent)


async def start_once(
    build: Build, fake_url: str, http: aiohttp.ClientSession, args: argparse.Namespace
) -> None:
    children: list[asyncio.subprocess.Process] = []
    async with contextlib.AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="aibot-coldstart-"))
        extra = await fresh_store(args, stack)
        try:
            proc, url, cold = await start_gateway(
                Path(tmp), fake_url, http, children, command=Path(build.command), extra=extra
            )
            healthy = time.perf_counter()
            build.start_cpu_s.append(cpu_seconds(proc.pid))
            build.cold_start_s.append(cold)
            if args.message:
                await first_answer(build, http, url, proc.pid, cold)
            await asyncio.sleep(SETTLE - (time.perf_counter() - healthy))
            build.idle_rss_mb.append(rss_mb(proc.pid))
        finally:
            await asyncio.gather(*(stop_process(p) for p in children))


async def start_hello_once(build: Build, http: aiohttp.ClientSession, message: bool) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        REPO_ROOT / "bench" / "hello.py",
        "--port",
        str(port),
        env=child_env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        while True:
            if proc.returncode is not None or time.perf_counter() - started > HEALTH_TIMEOUT:
                raise BenchError("the hello app did not answer")
            try:
                async with http.get(f"{url}/healthz", timeout=aiohttp.ClientTimeout(total=1)) as r:
                    if r.status == 200:
                        break
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.01)
        healthy = time.perf_counter()
        build.cold_start_s.append(healthy - started)
        build.start_cpu_s.append(cpu_seconds(proc.pid))
        if message:
            await first_answer(build, http, url, proc.pid, healthy - started)
        await asyncio.sleep(SETTLE - (time.perf_counter() - healthy))
        build.idle_rss_mb.append(rss_mb(proc.pid))
    finally:
        await stop_process(proc)


async def coldstart(args: argparse.Namespace, tmp: Path) -> list[Build]:
    commands = args.ai_bot or [Path(sys.executable).parent / "ai-bot"]
    builds = [Build(str(c), has_bytecode(Path(c))) for c in commands]
    if args.hello:
        builds.append(Build(HELLO, bytecode=True))
    children: list[asyncio.subprocess.Process] = []
    try:
        async with aiohttp.ClientSession() as http:
            fake_url = await start_fake(tmp / "fake.log", children)

            async def start(build: Build) -> None:
                if build.command == HELLO:
                    await start_hello_once(build, http, args.message)
                else:
                    await start_once(build, fake_url, http, args)

            for build in builds:  # one unmeasured start each: the OS file cache, as in a restart
                await start(Build(build.command, build.bytecode))
            for _ in range(args.starts):
                for build in builds:  # interleaved, so every build sees the same load
                    await start(build)
    finally:
        await asyncio.gather(*(stop_process(p) for p in children))
    return builds


def spread(values: list[float], digits: int) -> str:
    """min / median / max; "-" for a figure not taken."""
    if not values:
        return "-"
    parts = (min(values), statistics.median(values), max(values))
    return " / ".join(f"{v:.{digits}f}" for v in parts)


def report(builds: list[Build], console: Console, message: bool) -> None:
    table = Table(title="ai-bot run: cold start, first answer and memory (min / median / max)")
    table.add_column("build")
    table.add_column("starts", justify="right")
    table.add_column("cold start (s)", justify="right")
    table.add_column("start-up CPU (s)", justify="right")
    table.add_column("first answer (s)", justify="right")
    table.add_column("CPU to it (s)", justify="right")
    table.add_column("RSS at 1 s (MB)", justify="right")
    for b in builds:
        table.add_row(
            b.command,
            str(len(b.cold_start_s)),
            spread(b.cold_start_s, 2),
            spread(b.start_cpu_s, 2),
            spread(b.first_answer_s, 2),
            spread(b.first_answer_cpu_s, 2),
            spread(b.idle_rss_mb, 1),
        )
    console.print(table)
    for b in builds:
        if b.command == HELLO:
            continue
        if not b.bytecode:
            console.print(
                f"[yellow]{b.command}: no compiled bytecode, every start compiled the gateway "
                "from source (python -m compileall on its environment, or pip's default)[/]"
            )
        start, rss = statistics.median(b.cold_start_s), statistics.median(b.idle_rss_mb)
        start_target, start_mark = bounded(start, *TARGETS["cold_start_s"])
        rss_target, rss_mark = bounded(rss, *TARGETS["idle_rss_mb"])
        console.print(
            f"{b.command}: median cold start {start:.2f} s ({start_target}) {start_mark}, "
            f"median RSS 1 s after /healthz{' (first message answered)' if message else ''} "
            f"{rss:.1f} MB ({rss_target}) {rss_mark}"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=7, help="measured starts per build")
    parser.add_argument(
        "--ai-bot",
        type=Path,
        action="append",
        help="an `ai-bot` to start (repeat for A/B; default: the one beside this Python)",
    )
    parser.add_argument(
        "--no-hello",
        dest="hello",
        action="store_false",
        help="leave out the bare uvicorn hello app (the floor, started between the builds)",
    )
    parser.add_argument(
        "--no-message",
        dest="message",
        action="store_false",
        help="send no first message: the RSS at 1 s is then the idle gateway's",
    )
    add_fresh_postgres(parser, "each start")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.starts < 1:
        parser.error("--starts must be at least 1")
    return args


async def amain(args: argparse.Namespace) -> list[Build]:
    cancel_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="aibot-coldstart-") as tmp:
        return await coldstart(args, Path(tmp))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=max(Console().width, 170))
    builds = run_reported(amain(args), console, error_code=2)
    if isinstance(builds, int):
        return builds
    report(builds, console, args.message)
    data: dict[str, Any] = {"builds": [asdict(b) for b in builds]}
    write_json(args.json, data)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
