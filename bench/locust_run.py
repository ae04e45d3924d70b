"""`make locust`: Locust headless against a gateway on the loopback fake model, then its table.

    .venv/bin/python bench/locust_run.py --users 50 --duration 2m
    .venv/bin/python bench/locust_run.py --host https://bot.example.com --users 200   # yours

Without `--host` it starts what bench/run.py starts (the OpenAI fake answering at once, `ai-bot
run` with SQLite in a temporary directory) plus the webhook channel with a local receiver for
its callbacks, so every user class of bench/locustfile.py has somewhere to go. With `--host`
it only runs Locust (set AIBOT_API_KEY to one of that gateway's keys).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/locust_run.py`

import aiohttp
from bench.processes import API_KEY, BenchError, child_env, start_fake, start_gateway, stop_process
from bench.run import cancel_on_sigterm
from tests.fakes.callback_receiver import CallbackReceiver

HERE = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20, help="simulated people (default 20)")
    parser.add_argument("--spawn-rate", type=float, default=5, help="users started per second")
    parser.add_argument("--duration", default="60s", help="how long, e.g. 30s, 5m (default 60s)")
    parser.add_argument("--host", help="an existing gateway instead of one on the fake model")
    parser.add_argument("--think", default="2,8", help="min,max think seconds (default 2,8)")
    parser.add_argument("--csv", help="also write Locust's CSV files with this prefix")
    return parser.parse_args(argv)


async def run_locust(args: argparse.Namespace, host: str) -> int:
    think_min, _, think_max = args.think.partition(",")
    env = {
        **child_env(),
        "AIBOT_API_KEY": os.environ.get("AIBOT_API_KEY", API_KEY),
        "AIBOT_THINK_MIN": think_min,
        "AIBOT_THINK_MAX": think_max or think_min,
    }
    argv = [
        "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless", "--host", host,
        "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.duration,
        "--only-summary", "--stop-timeout", "10",
    ]  # fmt: skip
    if args.csv:
        argv += ["--csv", args.csv]
    proc = await asyncio.create_subprocess_exec(sys.executable, *argv, env=env)
    return await proc.wait()


async def amain(args: argparse.Namespace) -> int:
    cancel_on_sigterm()
    if args.host:
        return await run_locust(args, args.host)
    children: list[asyncio.subprocess.Process] = []
    with tempfile.TemporaryDirectory(prefix="ai-bot-locust-") as name:
        tmp = Path(name)
        try:
            async with CallbackReceiver() as receiver, aiohttp.ClientSession() as http:
                fake = await start_fake(tmp / "fake.log", children)
                extra = {
                    "channels": {"webhook": {"callback_url": receiver.url}},
                    "logging": {"level": "warning"},
                }
                _, url, _ = await start_gateway(tmp, fake, http, children, extra=extra)
                return await run_locust(args, url)
        finally:
            for child in reversed(children):
                await stop_process(child)


def main(argv: list[str] | None = None) -> int:
    try:
        return asyncio.run(amain(parse_args(argv)))
    except BenchError as exc:
        print(f"locust_run: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
