"""Benchmark the gateway end to end against the OpenAI fake, and report it against the targets.

Why this shape: the figures that matter to a self-hoster are what one box sustains over the
real HTTP path (API → pipeline → store → provider client → model) and what the gateway adds on
top of the model's own latency. So the model is the loopback fake answering instantly, the fake
alone is measured first as the baseline, and the gateway is measured as a separate process
(cold start, memory, CPU) exactly as `ai-bot run` starts in production.

    .venv/bin/python bench/run.py [--concurrency 50] [--messages 10000] [--conversations 500]

The parts: processes (start/stop, CPU, memory), load (driving requests), measure (a run's
figures), report (tables against the targets); this file parses the command line and runs them.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from collections.abc import Coroutine
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import orjson
from rich.console import Console
from rich.markup import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/run.py` too

from bench.load import DEFAULT_MODES, MODES
from bench.measure import Figures, bench
from bench.processes import BenchError, add_fresh_postgres
from bench.report import report

T = TypeVar("T")


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
    add_fresh_postgres(parser, "the run", instead="--storage-url")
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
        "--reference",
        action="store_true",
        help="with --replicas and --fresh-postgres: also one process without Redis on a fresh "
        "database of its own, loaded in the same alternating blocks, and its CPU per message "
        "as a fraction of the replicas' (issue 20: ≥ 0.7 × per replica)",
    )
    parser.add_argument(
        "--independent",
        action="store_true",
        help="with --reference: also as many processes as replicas, each without Redis on a "
        "fresh database of its own, the load spread over them as over the replicas: what "
        "sharing the box costs without any coordination (one process ÷ them), apart from what "
        "scale-out mode adds (them ÷ the replicas)",
    )
    parser.add_argument(
        "--affinity",
        action="store_true",
        help="with --replicas: each conversation's messages all go to one replica, as behind "
        "a balancer that hashes the conversation (default: message by message, a balancer "
        "without affinity, so a conversation's next message may land on another replica)",
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
    if args.reference and not (args.replicas and args.fresh_postgres):
        parser.error("--reference needs --replicas and --fresh-postgres")
    if args.independent and not args.reference:
        parser.error("--independent needs --reference")
    if args.affinity and args.replicas < 2:
        parser.error("--affinity needs --replicas 2 or more")
    args.modes = (args.modes or DEFAULT_MODES[args.endpoint]).split(",")
    unknown = [m for m in args.modes if (args.endpoint, m) not in MODES]
    if unknown:
        parser.error(f"--modes: {', '.join(unknown)} is not a path of --endpoint {args.endpoint}")
    return args


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
