"""The client side of the fault tests: bounded calls into a running gateway and its readouts.

Every call here has a total timeout, so a gateway that hangs under a fault fails the test as a
recorded `TIMEOUT` instead of stalling the suite; nothing here retries, so what a caller sees is
exactly what the gateway answered.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.support.gateway import RunningGateway

JSON = dict[str, Any]
# Longer than any answer the gateway owes under the faults these tests make (a model timeout of
# 1 s, retried once): reaching it means the gateway hung.
CALL_TIMEOUT = aiohttp.ClientTimeout(total=15)
TIMEOUT = -1  # the status recorded for a call that got no answer within CALL_TIMEOUT
DROPPED = -2  # the status recorded for a call whose connection broke before an answer


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP exchange as the client saw it: status, decoded body (None: not JSON), when."""

    status: int
    body: JSON | None
    sent_at: float
    seconds: float

    @property
    def error_code(self) -> str | None:
        """`error.code` of a JSON error body, the shape every gateway error promises."""
        error = (self.body or {}).get("error")
        return error.get("code") if isinstance(error, dict) else None


async def _exchange(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[Answer, bytes]:
    """One bounded request: the answer (body decoded when it is a JSON object) and its bytes."""
    started = time.monotonic()
    try:
        async with http.request(method, url, timeout=CALL_TIMEOUT, **kwargs) as response:
            raw = await response.read()
            status = response.status
    except TimeoutError:
        return Answer(TIMEOUT, None, started, time.monotonic() - started), b""
    except aiohttp.ClientError:
        return Answer(DROPPED, None, started, time.monotonic() - started), b""
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    return Answer(
        status, body if isinstance(body, dict) else None, started, time.monotonic() - started
    ), raw


async def post_webhook(
    http: aiohttp.ClientSession, gw: RunningGateway, message_id: str, text: str, session: str
) -> Answer:
    """`POST /api/v1/messages` of the generic webhook channel: 202 means accepted durably."""
    answer, _raw = await _exchange(
        http,
        "POST",
        f"{gw.url}/api/v1/messages",
        headers=gw.headers,
        json={"message_id": message_id, "session_id": session, "message": text},
    )
    return answer


async def api_chat(
    http: aiohttp.ClientSession,
    gw: RunningGateway,
    session: str,
    text: str,
    *,
    stream: bool = False,
) -> Answer:
    """`POST /api/v1/chat`; a streamed answer's body is its last SSE event (done or error)."""
    answer, raw = await _exchange(
        http,
        "POST",
        f"{gw.url}/api/v1/chat",
        headers=gw.headers,
        json={"session_id": session, "message": text, "stream": stream},
    )
    if not stream or answer.status != 200:
        return answer
    events = [
        orjson.loads(line[5:]) for line in raw.decode().splitlines() if line.startswith("data:")
    ]
    return Answer(answer.status, events[-1] if events else None, answer.sent_at, answer.seconds)


async def readyz(http: aiohttp.ClientSession, gw: RunningGateway) -> JSON:
    answer, raw = await _exchange(http, "GET", f"{gw.url}/readyz")
    assert answer.body is not None, f"/readyz answered {answer.status}: {raw[:300]!r}"
    return answer.body


async def metric(
    http: aiohttp.ClientSession, gw: RunningGateway, name: str, **labels: str
) -> float:
    """The value of one sample of /metrics (0 when absent, as Prometheus treats a missing
    counter): `name` is the sample's full name, e.g. `aibot_messages_out_total`."""
    answer, raw = await _exchange(http, "GET", f"{gw.url}/metrics")
    assert answer.status == 200, f"/metrics answered {answer.status}"
    for family in text_string_to_metric_families(raw.decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0
