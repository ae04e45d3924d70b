"""No route takes more than a second of CPU on any input (issue 16): generated requests, made
to pass every check a caller can pass (API keys, platform signatures) so the text reaches the
work behind them — masking, filters, storage, the model call, the reply — with texts built to
make backtracking patterns and quadratic loops slow. Each request's cost is the CPU time the
gateway process used from sending it until the work it started (an inbox message answered) is
done."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.fuzz_rig import Rig, fuzz_settings, in_thread

pytestmark = pytest.mark.asyncio(loop_scope="module")

CPU_LIMIT = 1.0
SETTLE = 10.0  # seconds to wait for the work a request queued
# Up to the body limit (1 MiB): longer once encrypted (Feishu, WeCom) or in CJK, then a 413.
LONGEST = 900_000
# Units that, repeated, slow down backtracking regular expressions and naive scans.
UNITS = ["a", "a@", "1.", "a@1.", "@a.", "1", "1 ", "+1 ", "1-", "中", "<", "&", "\\", "\u200b"]


def texts() -> st.SearchStrategy[str]:
    repeated = st.builds(
        lambda unit, count, head: (head + unit * count)[:LONGEST],
        st.sampled_from(UNITS),
        st.integers(1, LONGEST),
        st.sampled_from(["", "x@", "13812345678 ", "/model ", "@gw_test_bot "]),
    )
    return repeated | st.text(max_size=3_000)


@dataclass(frozen=True)
class Route:
    """A route and how to make a request to it that its checks accept, carrying `text`."""

    name: str
    build: Callable[[Rig, str], tuple[str, str, bytes, dict[str, str], str]]


def _rest(rig: Rig, text: str) -> tuple[str, str, bytes, dict[str, str], str]:
    body = orjson.dumps({"session_id": "timing", "message": text or "x"})
    return "POST", "/api/v1/chat", body, rig.bearer(), ""


def _openai(rig: Rig, text: str) -> tuple[str, str, bytes, dict[str, str], str]:
    body = orjson.dumps(
        {
            "model": "fake",
            "messages": [
                {"role": "system", "content": text},
                {"role": "user", "content": text or "x"},
            ],
        }
    )
    return "POST", "/v1/chat/completions", body, rig.bearer(), ""


def _webhook(rig: Rig, text: str) -> tuple[str, str, bytes, dict[str, str], str]:
    body = orjson.dumps(
        {"message_id": f"t{rig.next_id()}", "session_id": "timing", "message": text or "x"}
    )
    return "POST", "/api/v1/messages", body, rig.bearer(), ""


def _telegram(rig: Rig, text: str) -> tuple[str, str, bytes, dict[str, str], str]:
    return "POST", "/telegram/webhook", rig.telegram_update(text), rig.telegram_headers(), ""


def _feishu(rig: Rig, text: str) -> tuple[str, str, bytes, dict[str, str], str]:
    body, headers = rig.feishu_request(orjson.dumps(rig.feishu_event(text)))
    return "POST", "/feishu/webhook", body, headers, ""


def _wecom(rig: Rig, text: str) -> tuple[str, str, bytes, dict[str, str], str]:
    query, body = rig.wecom_request(rig.wecom_message(text))
    return "POST", "/wecom/webhook", body, {"Content-Type": "text/xml"}, query


def _dingtalk(rig: Rig, text: str) -> tuple[str, str, bytes, dict[str, str], str]:
    return "POST", "/dingtalk/webhook", rig.dingtalk_message(text), rig.dingtalk_headers(), ""


def _public(path: str) -> Route:
    def build(_rig: Rig, text: str) -> tuple[str, str, bytes, dict[str, str], str]:
        query = "q=" + "".join(f"%{b:02X}" for b in text.encode()[:4_000])
        return "GET", path, b"", {}, query

    return Route(path, build)


ROUTES = [
    Route("rest", _rest),
    Route("openai", _openai),
    Route("webhook", _webhook),
    Route("telegram", _telegram),
    Route("feishu", _feishu),
    Route("wecom", _wecom),
    Route("dingtalk", _dingtalk),
    *(_public(p) for p in ("/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")),
    _public("/admin/login"),
]


def _settled(rig: Rig) -> None:
    """Until the messages the request stored are answered and the answers delivered."""
    deadline = time.monotonic() + SETTLE
    while (rig.pending() or _undelivered(rig)) and time.monotonic() < deadline:
        time.sleep(0.05)


def _undelivered(rig: Rig) -> int:
    with sqlite3.connect(rig.gw.workdir / "ai-bot.db") as db:
        return int(db.execute("SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0])


def _cost(rig: Rig, route: Route, text: str) -> float:
    method, path, body, headers, query = route.build(rig, text)
    before = rig.cpu_seconds()
    reply = rig.send(method, path, body=body, headers=headers, query=query)
    assert reply.status < 500, (route.name, reply.status, reply.body[:300])
    _settled(rig)
    cost = rig.cpu_seconds() - before
    return cost


async def test_the_worst_texts_cost_under_a_second_on_every_route(rig: Rig) -> None:
    worst = [("x@" + unit * LONGEST)[:LONGEST] for unit in UNITS]

    def run() -> None:
        for route in ROUTES:
            for text in worst:
                cost = _cost(rig, route, text)
                assert cost < CPU_LIMIT, (route.name, text[:20], cost)

    await in_thread(run)
    assert await rig.healthy()


async def test_no_generated_request_costs_a_second(rig: Rig) -> None:
    @fuzz_settings(max_examples=150)
    @given(route=st.sampled_from(ROUTES), text=texts())
    def prop(route: Route, text: str) -> None:
        cost = _cost(rig, route, text)
        assert cost < CPU_LIMIT, (route.name, text[:40], len(text), cost)

    await in_thread(prop)
    assert await rig.healthy()
