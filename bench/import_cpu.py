"""Where `ai-bot run`'s start-up CPU goes: every module's import in thread CPU time.

    .venv/bin/python -m bench.import_cpu [--starts 4] [--ai-bot /tmp/a/.venv/bin/ai-bot]

Starts the gateway under `bench/import_probe.py` (the config of `bench/run.py`, a fresh SQLite
database each time, or with `--fresh-postgres` a new PostgreSQL database), stops it once
`/healthz` answers, and prints, per top-level package (and per `aibot` room) and per module, its
own import CPU: the minimum over the starts, since on a shared box a start only ever gets slower.
Compile the bytecode first (see bench/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/import_cpu.py` too

import aiohttp
from bench.processes import (
    add_fresh_postgres,
    fresh_store,
    start_fake,
    start_gateway,
    stop_process,
)
from bench.run import cancel_on_sigterm, run_reported
from rich.console import Console
from rich.table import Table


def package(module: str) -> str:
    """The top-level package, or the room for our own modules (`aibot.config`)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "aibot" else parts[0]


async def sample(args: argparse.Namespace, tmp: Path) -> list[dict[str, int]]:
    """Each start's own import CPU per module, in µs."""
    children: list[asyncio.subprocess.Process] = []
    starts: list[dict[str, int]] = []
    try:
        async with aiohttp.ClientSession() as http:
            fake_url = await start_fake(tmp / "fake.log", children)
            for n in range(args.starts):
                run = tmp / f"start{n}"
                run.mkdir()
                out = run / "imports.json"
                async with contextlib.AsyncExitStack() as stack:
                    proc, _url, _cold = await start_gateway(
                        run,
                        fake_url,
                        http,
                        children,
                        command=args.ai_bot,
                        import_times=out,
                        extra=await fresh_store(args, stack),
                    )
                    await stop_process(proc)
                modules = json.loads(out.read_text())
                starts.append({name: own for name, _depth, own, _total in modules})
    finally:
        await asyncio.gather(*(stop_process(p) for p in children))
    return starts


def report(starts: list[dict[str, int]], top: int, console: Console) -> None:
    own = {m: min(s.get(m, 0) for s in starts) for m in starts[0]}
    packages: Counter[str] = Counter()
    for module, us in own.items():
        packages[package(module)] += us
    total = sum(own.values())
    console.print(
        f"{len(own)} modules, {total / 1000:.0f} ms of import CPU (min over {len(starts)} starts)"
    )
    for title, rows in (("package", packages), ("module", Counter(own))):
        table = Table(title=f"own import CPU per {title}")
        table.add_column(title)
        table.add_column("ms", justify="right")
        table.add_column("share", justify="right")
        for name, us in rows.most_common(top):
            table.add_row(name, f"{us / 1000:.1f}", f"{us / total:.1%}")
        console.print(table)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=4, help="starts to take the minimum over")
    parser.add_argument("--top", type=int, default=30, help="rows per table")
    parser.add_argument(
        "--ai-bot",
        type=Path,
        default=Path(sys.executable).parent / "ai-bot",
        help="the `ai-bot` to start (default: the one beside this Python)",
    )
    add_fresh_postgres(parser, "each start")
    args = parser.parse_args(argv)
    if args.starts < 1:
        parser.error("--starts must be at least 1")
    args.ai_bot = args.ai_bot.absolute()
    return args


async def amain(args: argparse.Namespace) -> list[dict[str, int]]:
    cancel_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="aibot-imports-") as tmp:
        return await sample(args, Path(tmp))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=max(Console().width, 120))
    starts = run_reported(amain(args), console, error_code=2)
    if isinstance(starts, int):
        return starts
    report(starts, args.top, console)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
