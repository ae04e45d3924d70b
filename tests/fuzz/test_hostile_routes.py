"""Hostile requests without valid credentials, to every route of one real gateway (issue 9): random
requests, huge bodies, deep JSON, bad UTF-8 and XML bombs.

The gateway answers below 500, stores nothing, calls no model and sends nothing; it logs no
traceback and still serves afterwards.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from pydantic import ValidationError

from aibot.config import ChannelsConfig, Config, LoadedConfig, load_config
from aibot.gateway.asgi import create_app
from tests.support.fuzz_rig import (
    Rig,
    fuzz_settings,
    in_thread,
)
from tests.support.fuzz_routes import (
    ENDPOINTS,
    POST_PATHS,
    Hostile,
    assert_refused,
    hostile_requests,
    served,
    switches,
)
from tests.support.gateway import deep_merge
from tests.support.hostile_inputs import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    INVALID_UTF8,
    nested,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

HUGE = 20 * 1024 * 1024


async def test_every_served_route_is_fuzzed(rig: Rig) -> None:
    """ENDPOINTS (tests/support/fuzz_routes.py) is the whole surface: a new route fails here."""
    app = create_app(load_config(rig.gw.config_path))
    assert served(app.full.routes) == {(e.method, e.path) for e in ENDPOINTS}


async def test_no_configuration_serves_an_unfuzzed_route(rig: Rig) -> None:
    """The rig switches on every optional feature: no valid config that differs from it in one
    switch or mode (tests/support/fuzz_routes.py: `switches`) serves a route it does not, so
    ENDPOINTS, and the properties below, cover a route only some configs serve (GraphiQL)."""
    # A switch of a section the rig leaves out would only make invalid configs, skipped below:
    # every channel is configured, so a new one's routes are found (or it fails here).
    assert set(ChannelsConfig.model_fields) <= set(rig.gw.config["channels"])
    surface = {(e.method, e.path) for e in ENDPOINTS}
    unfuzzed: dict[str, set[tuple[str, str]]] = {}
    for override in switches(Config):
        try:
            config = Config.model_validate(deep_merge(rig.gw.config, override))
        except ValidationError:
            continue  # no configuration serves what an invalid one would
        app = create_app(LoadedConfig(config=config, path=rig.gw.config_path))
        extra = served(app.full.routes) - surface
        if extra:
            unfuzzed[str(override)] = extra
    assert unfuzzed == {}


async def test_random_requests_to_every_route_are_refused(rig: Rig) -> None:
    @fuzz_settings(max_examples=800)
    @given(request=hostile_requests())
    def prop(request: Hostile) -> None:
        assert_refused(rig, request, rig.send(request.method, request.path, **request.options))

    await in_thread(prop)
    await rig.assert_nothing_accepted()


async def test_huge_bodies_are_refused_before_they_are_read(rig: Rig) -> None:
    """20 MB to every POST route: 413 from the body limit, declared or chunked."""
    huge = b"{" + b" " * HUGE + b"}"

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(HUGE // 65536):
            yield b" " * 65536

    for path in POST_PATHS:
        started = time.monotonic()
        reply = await rig.request(
            "POST", path, body=huge, headers={"Content-Type": "application/json"}
        )
        assert reply.status == 413, (path, reply)
        assert time.monotonic() - started < 10, path
    async with rig.http.post(
        f"{rig.gw.url}/telegram/webhook", data=chunks(), headers=rig.telegram_headers()
    ) as response:
        assert response.status == 413
    # Chunked, no Content-Length, to every API route with a valid key: the limit is found while
    # the body is read, and the answer is still 413, not the 400 of a body that failed to parse.
    for path in (p for p in POST_PATHS if p.startswith(("/api/", "/v1/"))):
        headers = {**rig.bearer(), "Content-Type": "application/json"}
        async with rig.http.post(f"{rig.gw.url}{path}", data=chunks(), headers=headers) as sent:
            assert sent.status == 413, (path, sent.status, await sent.text())
    await rig.assert_nothing_accepted()


async def test_deep_json_is_refused_even_with_valid_credentials(rig: Rig) -> None:
    deep = nested(100_000)
    body, feishu = rig.feishu_request(deep)
    cases = [
        ("/telegram/webhook", deep, rig.telegram_headers()),
        ("/dingtalk/webhook", deep, rig.dingtalk_headers()),
        ("/feishu/webhook", body, feishu),
        ("/feishu/webhook", deep, {}),
        ("/api/v1/messages", deep, rig.bearer()),
        ("/api/v1/chat", deep, rig.bearer()),
        ("/v1/chat/completions", deep, rig.bearer()),
    ]
    for path, payload, headers in cases:
        reply = await rig.request("POST", path, body=payload, headers=headers)
        assert 400 <= reply.status < 500, (path, reply)
    await rig.assert_nothing_accepted()


async def test_invalid_utf8_is_refused_even_with_valid_credentials(rig: Rig) -> None:
    for bad in INVALID_UTF8:
        text = b'{"update_id": 1, "message": {"text": "' + bad + b'"}}'
        encrypted, feishu = rig.feishu_request(text)
        query, wecom = rig.wecom_request("x")
        cases = [
            ("/telegram/webhook", text, rig.telegram_headers(), ""),
            ("/dingtalk/webhook", text, rig.dingtalk_headers(), ""),
            ("/feishu/webhook", encrypted, feishu, ""),
            ("/wecom/webhook", b"<xml><Encrypt>" + bad + b"</Encrypt></xml>", {}, query),
            ("/wecom/webhook", wecom, {}, query + "%FF%FE"),
            ("/api/v1/messages", text, rig.bearer(), ""),
            ("/api/v1/chat", text, rig.bearer(), ""),
            ("/v1/chat/completions", text, rig.bearer(), ""),
            (
                "/admin/login",
                b"name=" + bad + b"&password=" + bad,
                {"Content-Type": "application/x-www-form-urlencoded"},
                "",
            ),
        ]
        for path, body, headers, raw_query in cases:
            reply = await rig.request("POST", path, body=body, headers=headers, query=raw_query)
            assert 400 <= reply.status < 500, (path, bad, reply)
    await rig.assert_nothing_accepted()


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))


async def test_xml_bombs_to_wecom_are_refused_fast_even_correctly_signed(rig: Rig) -> None:
    """Billion laughs and external entities, as the body and inside a correctly encrypted and
    signed message: refused by the XML parser in well under a second, memory flat."""
    assert rig.gw.process is not None
    before = rss_kib(rig.gw.process.pid)
    for bomb in (BILLION_LAUGHS, EXTERNAL_ENTITY):
        inner_query, inner = rig.wecom_request(bomb.decode())
        outer_query, _ = rig.wecom_request("unused")
        for query, body in ((outer_query, bomb), (inner_query, inner)):
            started = time.monotonic()
            reply = await rig.request("POST", "/wecom/webhook", body=body, query=query)
            assert (reply.status, reply.body) == (400, b"xml"), reply
            assert time.monotonic() - started < 1.0
    assert rss_kib(rig.gw.process.pid) - before < 50 * 1024
    await rig.assert_nothing_accepted()
