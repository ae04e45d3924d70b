"""A fake OpenAI-compatible server on loopback: chat completions, models, embeddings.

Standalone, as the benchmark runs it: ``python -m tests.fakes.openai_server --port 0``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from tests.fakes.openai_server.server import FakeOpenAI


async def _serve(host: str, port: int, latency: float, api_key: str | None) -> None:
    """Run until SIGTERM/SIGINT, announcing the base URL on stdout for whoever started us."""
    fake = FakeOpenAI(api_key=api_key, latency=latency, record=False)
    await fake.start(host, port)
    print(f"ready {fake.base_url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await fake.stop()


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: ``python -m tests.fakes.openai_server --port 0``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY'")
    args = parser.parse_args(argv)
    coro = _serve(args.host, args.port, args.latency_ms / 1000, args.api_key)
    try:  # uvloop is an optional speed-up for the benchmark; the fake runs without it too
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


if __name__ == "__main__":
    main()
