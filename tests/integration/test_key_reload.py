"""A key removed from `channels.api.keys` stops working when the config is reloaded, without a
restart (issue 16), on every surface that takes keys; a key added starts working the same way."""

from __future__ import annotations

import signal

import aiohttp
import yaml

from tests.support.gateway import API_KEY, GatewayFactory, RunningGateway
from tests.support.waiting import wait_until

LEAKED = "leaked-key-0123456789"
NEW = "new-key-0123456789"


async def status(gw: RunningGateway, key: str) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{gw.url}/v1/models", headers={"Authorization": f"Bearer {key}"}) as response,
    ):
        return response.status


async def test_a_removed_key_is_refused_after_reload(gateway_factory: GatewayFactory) -> None:
    gw = await gateway_factory({"channels": {"api": {"keys": [API_KEY, LEAKED]}}})
    assert await status(gw, LEAKED) == 200
    config = yaml.safe_load(gw.config_path.read_text(encoding="utf-8"))
    config["channels"]["api"]["keys"] = [API_KEY, NEW]
    gw.config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    assert gw.process is not None
    gw.process.send_signal(signal.SIGHUP)
    assert await wait_until(lambda: "config reloaded" in gw.log(), timeout=10)
    assert await status(gw, LEAKED) == 401
    assert await status(gw, NEW) == 200
    assert await status(gw, API_KEY) == 200
    status_code, _ = await gw.chat("still here")  # REST with the kept key
    assert status_code == 200
