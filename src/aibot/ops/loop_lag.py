"""Event-loop lag: how late a periodic timer wakes up.

Everything in the gateway shares one event loop, so a blocking call anywhere (a slow regex, a
synchronous file read, CPU-bound work) delays every message at once. A timer that should fire
every `interval` seconds but fires later measures exactly that delay, at the cost of one wake-up
per interval.
"""

from __future__ import annotations

import asyncio
import contextlib

from aibot.ops.metrics import Metrics


class LoopLagSampler:
    def __init__(self, metrics: Metrics, interval: float = 0.5) -> None:
        self._metrics = metrics
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="loop-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self._interval
            await asyncio.sleep(self._interval)
            lag = max(0.0, loop.time() - expected)
            self._metrics.loop_lag.set(lag)
            self._metrics.loop_lag_samples.observe(lag)
