"""Per-session order, cross-session concurrency, the concurrency cap and back-pressure."""

from __future__ import annotations

import asyncio

import pytest

from aibot.core.dispatcher import Dispatcher
from aibot.core.errors import QueueFull
from aibot.ops.metrics import Metrics


async def test_one_session_runs_in_order_others_concurrently() -> None:
    dispatcher = Dispatcher(max_concurrency=10, max_queue=100, metrics=Metrics())
    log: list[tuple[str, int, str]] = []
    active: dict[str, int] = {}
    overlap = 0

    def job(session: str, n: int, delay: float):  # type: ignore[no-untyped-def]
        async def run() -> int:
            nonlocal overlap
            active[session] = active.get(session, 0) + 1
            assert active[session] == 1, "two jobs of one session ran at once"
            overlap = max(overlap, sum(active.values()))
            log.append((session, n, "start"))
            await asyncio.sleep(delay)
            active[session] -= 1
            return n

        return run

    futures = [dispatcher.submit(s, job(s, n, 0.01 * (3 - n))) for n in range(3) for s in "ab"]
    results = await asyncio.gather(*futures)
    assert results == [0, 0, 1, 1, 2, 2]
    for session in "ab":
        assert [n for s, n, _ in log if s == session] == [0, 1, 2]
    assert overlap == 2  # the two sessions really ran side by side


async def test_concurrency_cap() -> None:
    dispatcher = Dispatcher(max_concurrency=3, max_queue=100, metrics=Metrics())
    running = peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await asyncio.gather(*(dispatcher.submit(f"s{i}", work) for i in range(12)))
    assert peak == 3


async def test_the_gauges_read_the_queue_and_the_running_jobs_when_scraped() -> None:
    metrics = Metrics()
    dispatcher = Dispatcher(max_concurrency=2, max_queue=10, metrics=metrics)
    gate = asyncio.Event()

    async def blocked() -> None:
        await gate.wait()

    def gauges() -> tuple[float | None, float | None]:
        sample = metrics.registry.get_sample_value
        return sample("aibot_queue_depth"), sample("aibot_in_flight")

    futures = [dispatcher.submit(f"s{i}", blocked) for i in range(5)]
    assert gauges() == (5.0, 0.0)
    await asyncio.sleep(0.01)
    assert gauges() == (3.0, 2.0)  # two hold a slot, three wait for one
    gate.set()
    await asyncio.gather(*futures)
    assert gauges() == (0.0, 0.0)


async def test_queue_bound_pushes_back() -> None:
    dispatcher = Dispatcher(max_concurrency=1, max_queue=2, metrics=Metrics())
    gate = asyncio.Event()

    async def blocked() -> None:
        await gate.wait()

    first = dispatcher.submit("s", blocked)
    await asyncio.sleep(0)  # the first job leaves the queue and runs
    queued = [dispatcher.submit("s", blocked), dispatcher.submit("s", blocked)]
    with pytest.raises(QueueFull):
        dispatcher.submit("s", blocked)
    gate.set()
    await asyncio.gather(first, *queued)


async def test_a_failing_job_does_not_stop_its_session() -> None:
    dispatcher = Dispatcher(max_concurrency=2, max_queue=10, metrics=Metrics())

    async def boom() -> None:
        raise RuntimeError("boom")

    async def fine() -> str:
        return "ok"

    failing = dispatcher.submit("s", boom)
    after = dispatcher.submit("s", fine)
    with pytest.raises(RuntimeError):
        await failing
    assert await after == "ok"


async def test_cancelled_caller_skips_a_job_not_yet_started() -> None:
    dispatcher = Dispatcher(max_concurrency=1, max_queue=10, metrics=Metrics())
    gate = asyncio.Event()
    ran: list[str] = []

    async def hold() -> None:
        await gate.wait()

    async def record() -> None:
        ran.append("x")

    holder = dispatcher.submit("s", hold)
    waiter = asyncio.create_task(dispatcher.run("s", record))
    await asyncio.sleep(0)
    waiter.cancel()
    gate.set()
    await holder
    await asyncio.sleep(0.01)
    assert ran == []


async def test_jobs_waiting_for_a_slot_count_against_the_queue() -> None:
    dispatcher = Dispatcher(max_concurrency=1, max_queue=2, metrics=Metrics())
    gate = asyncio.Event()

    async def blocked() -> None:
        await gate.wait()

    first = dispatcher.submit("a", blocked)
    await asyncio.sleep(0.01)  # runs, holding the only slot
    waiting = [dispatcher.submit("b", blocked), dispatcher.submit("c", blocked)]
    await asyncio.sleep(0.01)  # their lanes start and wait for the slot
    with pytest.raises(QueueFull):
        dispatcher.submit("d", blocked)
    gate.set()
    await asyncio.gather(first, *waiting)
