"""Cold start (issue 20): the outbound HTTP client is imported at the first call that needs it.

aiohttp costs a start ~20 MB and a fifth of a second of CPU, TLS contexts included, and a
gateway with only the API channel and a model has no outbound call to make until its first
message; that call goes through the provider's lean pool (`providers/lean_http.py`), so a
model API reached without a proxy never needs aiohttp at all. The real `ai-bot run` is
started with Python's import log on (`PYTHONPROFILEIMPORTTIME` writes one line per module
imported, to the gateway's log, as it is imported), so what was imported by the time
`/healthz` answered, and by the first answer, is read from the outside.
"""

from __future__ import annotations

import re

from tests.support.gateway import GatewayFactory


def imported(log: str, module: str) -> bool:
    """Whether the import log (`import time: self | cumulative | name`) names `module`."""
    return re.search(rf"^import time:[^|]*\|[^|]*\| *{re.escape(module)}$", log, re.M) is not None


async def test_a_gateway_imports_its_model_client_at_its_first_call_and_no_aiohttp(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory(env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert imported(gw.log(), "aibot.gateway.asgi")  # the log is on and holds the start
    assert not imported(gw.log(), "aibot.providers.lean_http")
    assert not imported(gw.log(), "aiohttp")

    status, body = await gw.chat("你好")
    assert status == 200 and body["reply"] == "echo: 你好"
    assert imported(gw.log(), "aibot.providers.lean_http")
    assert not imported(gw.log(), "aiohttp")
