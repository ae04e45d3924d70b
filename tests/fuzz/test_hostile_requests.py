"""Hostile requests without valid credentials, to every route of one real gateway (issue 9).

Whatever arrives — random or mutated bodies, wrong, absent, near-miss or replayed signatures,
huge bodies, deep JSON, bad UTF-8, XML bombs — the gateway answers below 500, stores nothing,
calls no model and sends nothing; it logs no traceback and still serves afterwards. The last
test sends the same requests correctly signed and sees them accepted, so the refusals above
come from the checks under test and not from a broken harness.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from aibot.config import load_config
from aibot.gateway.asgi import create_app
from tests.fakes.wecom_api import FakeWecom
from tests.support.fuzz_rig import (
    Rig,
    encode_query,
    fuzz_settings,
    in_thread,
    socket_exchange,
)
from tests.support.gateway import API_KEY
from tests.support.hostile_inputs import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    INVALID_UTF8,
    NEAR_MISS_KEYS,
    bodies,
    cookies,
    header_text,
    hostile_headers,
    nested,
    queries,
)
from tests.support.platforms import FEISHU_TOKEN, TELEGRAM_SECRET
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

HUGE = 20 * 1024 * 1024
SESSION_COOKIE = "aibot_admin="


@dataclass(frozen=True)
class Endpoint:
    method: str  # WEBSOCKET for the chat page's socket
    path: str
    public: bool = False  # open to anyone by design (health, docs, static files, login page)


ENDPOINTS = [
    Endpoint("GET", "/openapi.json", True),
    Endpoint("GET", "/docs", True),
    Endpoint("GET", "/docs/assets/{path}", True),
    Endpoint("GET", "/healthz", True),
    Endpoint("GET", "/readyz", True),
    Endpoint("GET", "/metrics", True),
    Endpoint("GET", "/", True),
    Endpoint("GET", "/static/{path}", True),
    Endpoint("GET", "/admin/static/{path}", True),
    Endpoint("GET", "/admin/login", True),
    Endpoint("GET", "/.well-known/jwks.json", True),
    Endpoint("POST", "/api/v1/chat"),
    Endpoint("POST", "/api/v1/token"),
    Endpoint("POST", "/api/v1/token/revoke"),
    Endpoint("POST", "/api/v1/messages"),
    Endpoint("GET", "/v1/models"),
    Endpoint("GET", "/v1/models/{model_id:path}"),
    Endpoint("POST", "/v1/chat/completions"),
    Endpoint("POST", "/v1/embeddings"),
    Endpoint("POST", "/telegram/webhook"),
    Endpoint("POST", "/feishu/webhook"),
    Endpoint("GET", "/wecom/webhook"),
    Endpoint("POST", "/wecom/webhook"),
    Endpoint("POST", "/dingtalk/webhook"),
    Endpoint("WEBSOCKET", "/ws"),
    Endpoint("POST", "/web/upload"),
    Endpoint("POST", "/graphql"),
    Endpoint("WEBSOCKET", "/graphql"),
    Endpoint("POST", "/admin/login"),
    Endpoint("GET", "/admin"),
    Endpoint("GET", "/admin/api/stats"),
    Endpoint("GET", "/admin/api/series"),
    Endpoint("POST", "/admin/api/token"),
    Endpoint("GET", "/admin/conversations"),
    Endpoint("GET", "/admin/conversation"),
    Endpoint("GET", "/admin/conversation/export"),
    Endpoint("GET", "/admin/media/{media_id}"),
    Endpoint("GET", "/admin/channels"),
    Endpoint("POST", "/admin/channels/{name}/pause"),
    Endpoint("POST", "/admin/channels/{name}/resume"),
    Endpoint("GET", "/admin/models"),
    Endpoint("POST", "/admin/models/default"),
    Endpoint("POST", "/admin/models/canary"),
    Endpoint("GET", "/admin/keys"),
    Endpoint("POST", "/admin/keys"),
    Endpoint("POST", "/admin/keys/{key_id}/revoke"),
    Endpoint("POST", "/admin/keys/{key_id}/rotate"),
    Endpoint("GET", "/admin/policies"),
    Endpoint("POST", "/admin/policies"),
    Endpoint("GET", "/admin/dead-letters"),
    Endpoint("POST", "/admin/dead-letters/{row_id}/retry"),
    Endpoint("GET", "/admin/audit"),
    Endpoint("GET", "/admin/users"),
    Endpoint("POST", "/admin/users/{user_id}/signout"),
    Endpoint("POST", "/admin/logout"),
    Endpoint("GET", "/admin/schedules"),
    Endpoint("POST", "/admin/schedules/{name}/pause"),
    Endpoint("POST", "/admin/schedules/{name}/resume"),
    Endpoint("POST", "/admin/schedules/{name}/run"),
    Endpoint("GET", "/admin/account/password"),
    Endpoint("POST", "/admin/account/password"),
]
HTTP_ENDPOINTS = [e for e in ENDPOINTS if e.method != "WEBSOCKET"]
PUBLIC = {(e.method, e.path) for e in ENDPOINTS if e.public}
IMPOSTOR = FakeWecom(token="NotTheToken")  # signs and encrypts only; never served
POST_PATHS = sorted({e.path for e in ENDPOINTS if e.method == "POST" and "{" not in e.path})


def served(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers flattened."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            found |= served(inner.routes)
        elif isinstance(route, Mount):
            found.add(("GET", route.path + "/{path}"))
        elif isinstance(route, WebSocketRoute):
            found.add(("WEBSOCKET", route.path))
        elif isinstance(route, Route):
            found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


async def test_every_served_route_is_fuzzed(rig: Rig) -> None:
    """The list above is the gateway's whole surface: a new route fails here until added."""
    app = create_app(load_config(rig.gw.config_path))
    assert served(app.full.routes) == {(e.method, e.path) for e in ENDPOINTS}


def concrete(path: str, filler: str) -> str:
    """A templated path with its parameter filled (traversal attempts included)."""
    start = path.find("{")
    if start < 0:
        return path
    return path[:start] + (quote(filler, safe="/%.") or "x") + path[path.find("}") + 1 :]


async def test_random_requests_to_every_route_are_refused(rig: Rig) -> None:
    @fuzz_settings(max_examples=800)
    @given(
        endpoint=st.sampled_from(HTTP_ENDPOINTS),
        body=bodies(),
        headers=hostile_headers(),
        query=queries(),
        jar=cookies,
        filler=st.text(max_size=20)
        | st.sampled_from(["../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "1"]),
        method=st.sampled_from([None, None, None, "GET", "POST", "PUT", "DELETE", "PATCH"]),
    )
    def prop(
        endpoint: Endpoint,
        body: bytes,
        headers: dict[str, str],
        query: str,
        jar: dict[str, str],
        filler: str,
        method: str | None,
    ) -> None:
        method = method or endpoint.method
        reply = rig.send(
            method,
            concrete(endpoint.path, filler),
            body=body,
            headers=headers,
            query=query,
            cookies=jar,
        )
        assert reply.status < 500, reply
        assert b"root:x:0:0" not in reply.body  # no path traversal out of the static folders
        if (method, endpoint.path) not in PUBLIC:
            assert not 200 <= reply.status < 300, reply
            assert not any(c.startswith(SESSION_COOKIE) for c in reply.set_cookies), reply

    await in_thread(prop)
    await rig.assert_nothing_accepted()


def mutate_text(value: str, index: int, replacement: str) -> str:
    """`value` with one character replaced, or cut short if it is empty.

    Never by itself or by its other case: hex signatures are compared case-insensitively
    (an upper-case digest is the same digest), so `a`→`A` is not a forgery."""
    if not value:
        return replacement or "x"
    index %= len(value)
    new = replacement[:1] or "x"
    if new.casefold() == value[index].casefold():
        new = "y" if value[index].casefold() != "y" else "z"
    return value[:index] + new + value[index + 1 :]


@given(value=st.text(min_size=1, max_size=20), index=st.integers(0, 40), junk=header_text(3))
def test_a_mutated_credential_differs_beyond_case(value: str, index: int, junk: str) -> None:
    """CI once failed on `a`→`A` in a WeCom signature, which the gateway rightly accepts."""
    assert mutate_text(value, index, junk).casefold() != value.casefold()


SIGNED = [
    "telegram",
    "feishu",
    "wecom_post",
    "wecom_get",
    "dingtalk",
    "messages",
    "chat",
    "completions",
    "models",
]
MUTATIONS = ["drop", "flip", "stranger", "stale", "future", "body", "nonce", "other_secret"]


async def test_mutated_credentials_are_refused(rig: Rig) -> None:
    """A request that would be accepted, with one thing about its credentials wrong."""

    @fuzz_settings(max_examples=500)
    @given(
        channel=st.sampled_from(SIGNED),
        mutation=st.sampled_from(MUTATIONS),
        index=st.integers(0, 200),
        junk=header_text(40),
        skew=st.integers(3700, 10**7),
    )
    def prop(channel: str, mutation: str, index: int, junk: str, skew: int) -> None:
        method, path, options = forged(rig, channel, mutation, index, junk, skew)
        reply = rig.send(method, path, **options)
        assert 400 <= reply.status < 500, (channel, mutation, reply)

    await in_thread(prop)
    await rig.assert_nothing_accepted()


def forged(
    rig: Rig, channel: str, mutation: str, index: int, junk: str, skew: int
) -> tuple[str, str, dict[str, object]]:
    """The request `channel` would accept, with its credentials broken by `mutation`.

    `skew` (seconds, over an hour) moves a timestamp outside every platform's window: a
    replayed request, re-signed correctly, is still refused."""
    now = time.time()
    if channel == "telegram":
        secret = {
            "drop": None,
            "stranger": junk or "x",
            "other_secret": TELEGRAM_SECRET + "x",
            "stale": TELEGRAM_SECRET[:-1],
            "future": TELEGRAM_SECRET.upper(),
        }.get(mutation, mutate_text(TELEGRAM_SECRET, index, junk))
        headers = rig.telegram_headers(secret or "")
        if secret is None:
            del headers["X-Telegram-Bot-Api-Secret-Token"]
        return "POST", "/telegram/webhook", {"body": rig.telegram_update(), "headers": headers}
    if channel == "feishu":
        return "POST", "/feishu/webhook", forged_feishu(rig, mutation, index, junk, now, skew)
    if channel in ("wecom_post", "wecom_get"):
        return forged_wecom(rig, channel == "wecom_get", mutation, index, junk, now, skew)
    if channel == "dingtalk":
        stamp = {"stale": now - skew, "future": now + skew}.get(mutation, now)
        headers = rig.dingtalk_headers(
            int(stamp * 1000),
            secret="not-the-secret" if mutation == "other_secret" else rig.dingtalk.client_secret,
        )
        if mutation == "drop":
            del headers["sign"]
        elif mutation in ("flip", "body", "nonce"):
            headers["sign"] = mutate_text(headers["sign"], index, junk)
        elif mutation == "stranger":
            headers["timestamp"] = junk or "x"
        return "POST", "/dingtalk/webhook", {"body": rig.dingtalk_message(), "headers": headers}
    key = {"drop": None, "stranger": junk, "other_secret": NEAR_MISS_KEYS[index % 5]}.get(
        mutation, mutate_text(API_KEY, index, junk)
    )
    if key is not None and key.strip() == API_KEY:
        key += "x"
    headers = rig.bearer(key or "") if key is not None else {"Content-Type": "application/json"}
    if mutation == "nonce" and key is not None:
        headers = {"Content-Type": "application/json", "Authorization": f"Basic {API_KEY}"}
    body = {
        "messages": orjson.dumps(
            {"message_id": f"m{rig.next_id()}", "session_id": "s1", "message": "hello"}
        ),
        "chat": orjson.dumps({"session_id": "s1", "message": "hello"}),
        "completions": orjson.dumps({"messages": [{"role": "user", "content": "hello"}]}),
        "models": b"",
    }[channel]
    paths = {
        "messages": "/api/v1/messages",
        "chat": "/api/v1/chat",
        "completions": "/v1/chat/completions",
        "models": "/v1/models",
    }
    return (
        ("GET" if channel == "models" else "POST"),
        paths[channel],
        {"body": body, "headers": headers},
    )


def forged_feishu(
    rig: Rig, mutation: str, index: int, junk: str, now: float, skew: float
) -> dict[str, object]:
    event = rig.feishu_event()
    if mutation == "other_secret":  # right key, right signature, wrong Verification Token
        event["header"]["token"] = mutate_text(FEISHU_TOKEN, index, junk)
    stamp = {"stale": now - skew, "future": now + skew}.get(mutation, now)
    body, headers = rig.feishu_request(orjson.dumps(event), timestamp=stamp)
    if mutation == "drop":
        del headers["X-Lark-Signature"]
    elif mutation == "flip":
        headers["X-Lark-Signature"] = mutate_text(headers["X-Lark-Signature"], index, junk)
    elif mutation == "stranger":
        body = orjson.dumps(event)  # plaintext, although an Encrypt Key is configured
    elif mutation == "body":
        body = body[: index % len(body)] + b" " + body[index % len(body) :]
    elif mutation == "nonce":
        headers["X-Lark-Request-Nonce"] = mutate_text(headers["X-Lark-Request-Nonce"], index, junk)
    return {"body": body, "headers": headers}


def forged_wecom(
    rig: Rig, echo: bool, mutation: str, index: int, junk: str, now: float, skew: float
) -> tuple[str, str, dict[str, object]]:
    signer = IMPOSTOR if mutation == "other_secret" else rig.wecom
    encrypted = signer.encrypt("1234567890" if echo else rig.wecom_message())
    stamp = {"stale": now - skew, "future": now + skew}.get(mutation, now)
    params = signer.signed_query(encrypted, timestamp=str(int(stamp)))
    if mutation == "drop":
        del params[("msg_signature", "timestamp", "nonce")[index % 3]]
    elif mutation == "flip":
        params["msg_signature"] = mutate_text(params["msg_signature"], index, junk)
    elif mutation == "nonce":
        params["nonce"] = mutate_text(params["nonce"], index, junk)
    elif mutation == "stranger":
        params["timestamp"] = mutate_text(params["timestamp"], index, junk)
    elif mutation == "body":
        encrypted = mutate_text(encrypted, index, junk)
    if echo:
        return "GET", "/wecom/webhook", {"query": encode_query({**params, "echostr": encrypted})}
    return (
        "POST",
        "/wecom/webhook",
        {"query": encode_query(params), "body": rig.wecom.envelope(encrypted)},
    )


async def test_web_chat_socket_refuses_every_hello_without_the_key(rig: Rig) -> None:
    hello = st.builds(
        lambda key, extra: orjson.dumps({"type": "hello", "key": key, **extra}).decode(),
        st.sampled_from([*NEAR_MISS_KEYS, None, 1, []]) | st.text(max_size=40),
        st.dictionaries(
            st.sampled_from(["session_id", "text", "id"]), st.text(max_size=20), max_size=2
        ),
    )
    frame = (
        hello | st.text(max_size=200) | st.binary(max_size=200) | st.just(nested(100_000).decode())
    )

    @fuzz_settings(max_examples=80)
    @given(frames=st.lists(frame, min_size=1, max_size=3))
    @example(frames=[b""])  # a binary frame: was an unhandled KeyError and an abnormal close
    def prop(frames: list[str | bytes]) -> None:
        exchange = socket_exchange(rig, "/ws", frames)
        seen, code = asyncio.run_coroutine_threadsafe(exchange, rig.loop).result(30)
        assert "ready" not in seen and "start" not in seen, seen
        assert code in (4400, 4401), (seen, code)

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


async def test_replayed_timestamps_are_refused(rig: Rig) -> None:
    """DingTalk (signature_max_age, 5 min), Feishu (signature_max_age, 5 min) and WeCom (1 h)
    carry a signed timestamp; an old one is refused though signed correctly. Telegram has none:
    a replay there is a duplicate update id, dropped by the inbox (see the last test)."""
    hour = 3600
    ding = [(-360) * 1000, 360 * 1000, (-hour - 60) * 1000, (hour + 60) * 1000]
    for offset in ding:
        headers = rig.dingtalk_headers(int(time.time() * 1000) + offset)
        reply = await rig.request(
            "POST", "/dingtalk/webhook", body=rig.dingtalk_message(), headers=headers
        )
        assert reply.status == 401, (offset, reply)
    for offset in (-301, 301):
        body, headers = rig.feishu_request(
            orjson.dumps(rig.feishu_event()), timestamp=time.time() + offset
        )
        reply = await rig.request("POST", "/feishu/webhook", body=body, headers=headers)
        assert reply.status == 401, (offset, reply)
    for offset in (-hour - 60, hour + 60):
        query, body = rig.wecom_request(rig.wecom_message(), timestamp=time.time() + offset)
        reply = await rig.request("POST", "/wecom/webhook", body=body, query=query)
        assert (reply.status, reply.body) == (403, b"timestamp"), (offset, reply)
    await rig.assert_nothing_accepted()


async def test_the_same_requests_correctly_signed_are_accepted_once(rig: Rig) -> None:
    """The control: keep this test last. What the tests above forged is accepted when right,
    inside the replay windows, and a replay of it is a duplicate, not a second message."""
    await rig.assert_nothing_accepted()
    telegram = rig.telegram_update("control telegram")
    body, feishu = rig.feishu_request(
        orjson.dumps(rig.feishu_event("control feishu")), timestamp=time.time() - 240
    )
    query, wecom = rig.wecom_request(
        rig.wecom_message("control wecom"), timestamp=time.time() - 3500
    )
    ding = rig.dingtalk_message("control dingtalk")
    ding_headers = rig.dingtalk_headers(int((time.time() - 240) * 1000))  # window: 5 min
    for _replay in range(2):
        for path, payload, headers, raw_query in [
            ("/telegram/webhook", telegram, rig.telegram_headers(), ""),
            ("/feishu/webhook", body, feishu, ""),
            ("/wecom/webhook", wecom, {}, query),
            ("/dingtalk/webhook", ding, ding_headers, ""),
        ]:
            reply = await rig.request("POST", path, body=payload, headers=headers, query=raw_query)
            assert reply.status == 200, (path, reply)
    message = orjson.dumps(
        {"message_id": "control-1", "session_id": "s1", "message": "control webhook"}
    )
    assert (
        await rig.request("POST", "/api/v1/messages", body=message, headers=rig.bearer())
    ).status == 202
    assert (await rig.request("GET", "/v1/models", headers=rig.bearer())).status == 200
    assert await wait_until(lambda: len(rig.llm.requests) == 5, timeout=15)
    assert sorted(channel for channel, _ in rig.inbox()) == [
        "dingtalk",
        "feishu",
        "telegram",
        "webhook",
        "wecom",
    ]
    assert rig.server_errors() == [] and rig.tracebacks() == []
