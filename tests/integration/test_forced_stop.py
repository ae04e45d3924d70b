"""A second Ctrl-C while the gateway stops (uvicorn then leaves without the shutdown) ends it with
one line that says what happens to the unfinished work, not with the cancelled stop's
traceback (the request it cut off is still logged as cut off, by uvicorn)."""

from __future__ import annotations

import asyncio
import signal
from contextlib import suppress

import aiohttp

from tests.fakes.openai_server import FakeOpenAI
from tests.support.gateway import GatewayFactory


async def test_a_second_signal_while_stopping_is_said_not_dumped(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory({})
    fake_llm.latency = 30.0  # the stop waits for the answer in flight
    async with aiohttp.ClientSession() as http:
        asking = asyncio.create_task(
            http.post(
                f"{gw.url}/api/v1/chat",
                headers=gw.headers,
                json={"session_id": "s", "message": "hello"},
            )
        )
        while not fake_llm.requests:
            await asyncio.sleep(0.02)
        assert gw.process is not None
        gw.process.send_signal(signal.SIGINT)
        while "Shutting down" not in gw.log():
            await asyncio.sleep(0.02)
        gw.process.send_signal(signal.SIGINT)
        await asyncio.wait_for(gw.process.wait(), 30)
        asking.cancel()
        with suppress(asyncio.CancelledError, aiohttp.ClientError):
            await asking
    log = gw.log()
    assert "Exception in 'lifespan' protocol" not in log, log[-3000:]
    assert "stopped before the shutdown finished" in log
