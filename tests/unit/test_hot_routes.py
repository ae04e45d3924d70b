"""The per-message endpoints and the probes served past FastAPI (gateway/hot_routes.py): they
are taken there, and every answer — success, refusal, error, stream — is the one the full app
gives to the same request, with the same headers and the configured secrets masked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from aibot.config import Config, LoadedConfig
from aibot.gateway.asgi import create_app
from aibot.gateway.hot_routes import HotRoutes
from aibot.gateway.lazy_app import GatewayApp
from tests.fakes.openai_server import FakeOpenAI
from tests.support.gateway import API_KEY, PROVIDER_KEY

KEY = {"Authorization": f"Bearer {API_KEY}"}
LIMIT = 2048
ORIGIN = "https://app.example.com"


class Seen:
    """The app behind the hot routes, counting the requests it gets."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


def hot_layer(app: GatewayApp) -> HotRoutes:
    layer: Any = app.app
    while not isinstance(layer, HotRoutes):
        layer = layer.app
    return layer


@asynccontextmanager
async def front(
    fake_llm: FakeOpenAI, tmp_path: Path, cors_origins: list[str]
) -> AsyncIterator[tuple[GatewayApp, Seen]]:
    """A started gateway app whose full app counts the requests it gets."""
    config = Config.model_validate(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'ai-bot.db'}"},
            "server": {"max_body_bytes": LIMIT, "public_url": "https://bot.example.com"},
            "channels": {"api": {"keys": [API_KEY], "cors_origins": cors_origins}},
            "models": {
                "default": "fake",
                "providers": {
                    "fake": {
                        "base_url": fake_llm.base_url,
                        "api_key": PROVIDER_KEY,
                        "model": "fake-model",
                        "max_retries": 1,
                    }
                },
            },
        }
    )
    app = create_app(LoadedConfig(config=config, path=None))
    async with app.lifespan():
        layer = hot_layer(app)
        seen = Seen(layer.app)
        layer.app = seen
        yield app, seen


@pytest.fixture
async def served(fake_llm: FakeOpenAI, tmp_path: Path) -> AsyncIterator[tuple[GatewayApp, Seen]]:
    async with front(fake_llm, tmp_path, []) as pair:
        yield pair


@pytest.fixture
async def cors_served(
    fake_llm: FakeOpenAI, tmp_path: Path
) -> AsyncIterator[tuple[GatewayApp, Seen]]:
    async with front(fake_llm, tmp_path, [ORIGIN]) as pair:
        yield pair


async def call(
    app: GatewayApp,
    path: str,
    body: bytes,
    headers: dict[str, str],
    session: str,
    method: str = "POST",
) -> httpx.Response:
    """Sends the request, in a conversation of its own (SESSION replaced by `session`)."""
    body = body.replace(b"SESSION", session.encode())
    headers = {k: v.replace("SESSION", session) for k, v in headers.items()}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.request(method, path, content=body, headers=headers)


async def front_and_full(
    served: tuple[GatewayApp, Seen], request: tuple[str, str, bytes, dict[str, str]], n: int
) -> tuple[httpx.Response, httpx.Response]:
    """The request (method, path, body, headers) answered by the front in conversation
    `hot<n>`, then by the full app (the oracle) in `full<n>`."""
    app, seen = served
    method, path, body, headers = request
    hot = await call(app, path, body, headers, f"hot{n}", method)
    assert seen.paths == [], f"{method} {path} went through the full stack"
    layer = hot_layer(app)
    endpoints, layer._endpoints = layer._endpoints, {}
    try:
        full = await call(app, path, body, headers, f"full{n}", method)
    finally:
        layer._endpoints = endpoints
    assert seen.paths == [path]
    seen.paths.clear()
    return hot, full


def v1(text: str, **extra: Any) -> bytes:
    return orjson.dumps({"model": "fake", "messages": [{"role": "user", "content": text}], **extra})


def rest(text: str, **extra: Any) -> bytes:
    return orjson.dumps({"session_id": "s-SESSION", "message": text, **extra})


JSON = {"Content-Type": "application/json"}
# (path, body, headers): answers, refusals and errors of both endpoints.
REQUESTS: list[tuple[str, bytes, dict[str, str]]] = [
    ("/v1/chat/completions", v1("hello"), {**KEY, **JSON}),
    ("/v1/chat/completions", v1("hello"), {**KEY, **JSON, "X-Session-Id": "conv-SESSION"}),
    ("/v1/chat/completions", v1("hello", stream=True), {**KEY, **JSON}),
    ("/v1/chat/completions", v1(f"say {API_KEY} and {PROVIDER_KEY}"), {**KEY, **JSON}),
    ("/v1/chat/completions", v1("hello"), JSON),
    ("/v1/chat/completions", b"{not json", {**KEY, **JSON}),
    ("/v1/chat/completions", orjson.dumps({"model": "fake"}), {**KEY, **JSON}),
    ("/v1/chat/completions", v1("x" * LIMIT), {**KEY, **JSON}),
    ("/v1/chat/completions", v1("hello", model="nope"), {**KEY, **JSON}),
    ("/api/v1/chat", rest("hello"), {**KEY, **JSON}),
    ("/api/v1/chat", rest("hello", stream=True), {**KEY, **JSON}),
    ("/api/v1/chat", rest(f"say {API_KEY}"), {**KEY, **JSON}),
    ("/api/v1/chat", rest("hello"), JSON),
    ("/api/v1/chat", orjson.dumps({"message": 12}), {**KEY, **JSON}),
    ("/api/v1/chat", b"[", {**KEY, **JSON}),
    ("/api/v1/chat", rest("y" * LIMIT), {**KEY, **JSON}),
]

VARYING = ("id", "created", "x-request-id", "request_id")


def comparable(response: httpx.Response, session: str) -> tuple[int, list[str], Any]:
    """Status, header names and body, without the ids and times that differ per request."""
    names = sorted(name for name in response.headers if name not in VARYING)
    text = response.text.replace(session, "SESSION")
    if response.headers.get("content-type", "").startswith("application/json"):
        body = orjson.loads(text)
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in VARYING}
        return response.status_code, names, body
    lines = [line for line in text.splitlines() if line.startswith("data: ")]
    events = [
        {k: v for k, v in orjson.loads(line[6:]).items() if k not in VARYING}
        for line in lines
        if line != "data: [DONE]"
    ]
    return response.status_code, names, events


async def test_hot_endpoints_skip_the_stack_and_answer_as_it_does(
    served: tuple[GatewayApp, Seen],
) -> None:
    for n, (path, body, headers) in enumerate(REQUESTS):
        hot, full = await front_and_full(served, ("POST", path, body, headers), n)
        assert comparable(hot, f"hot{n}") == comparable(full, f"full{n}"), (path, body[:60])
        assert len(hot.headers["x-request-id"]) == 32
        assert hot.headers["strict-transport-security"] == "max-age=31536000"
        for secret in (API_KEY, PROVIDER_KEY):
            assert secret not in hot.text, (path, body[:60])


async def test_other_routes_and_uploads_take_the_full_stack(
    served: tuple[GatewayApp, Seen],
) -> None:
    app, seen = served
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        assert (await client.get("/v1/models", headers=KEY)).status_code == 200
        assert (await client.get("/v1/chat/completions", headers=KEY)).status_code == 405
        form = await client.post(
            "/api/v1/chat",
            headers=KEY,
            files={"file": ("a.txt", b"hello", "text/plain")},
            data={"session_id": "s-2", "message": "hi"},
        )
    assert form.status_code == 200, form.text
    assert seen.paths == ["/v1/models", "/v1/chat/completions", "/api/v1/chat"]


async def test_probes_are_answered_in_front_as_the_full_app_answers_them(
    served: tuple[GatewayApp, Seen],
) -> None:
    app, _ = served
    language = {"Accept-Language": "zh-CN"}
    # HEAD too: what load balancers and uptime checkers send (the server sends no body).
    for method in ("GET", "HEAD"):
        for path in ("/healthz", "/readyz", "/metrics"):
            hot, full = await front_and_full(served, (method, path, b"", language), 0)
            assert hot.status_code == full.status_code == 200, (method, path)
            if method == "GET":
                assert comparable(hot, "-") == comparable(full, "-"), path
            assert sorted(hot.headers) == sorted(full.headers), (method, path)
            assert hot.headers["content-type"] == full.headers["content-type"]
            assert "x-request-id" not in hot.headers  # given under the API's paths only
            assert hot.headers["strict-transport-security"] == "max-age=31536000"
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        # Neither GET nor HEAD: the full app's answer (405), as before.
        assert (await client.post("/healthz")).status_code == 405


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.startswith("access-control-") or name == "vary"
    }


PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
# (method, path, body, headers): a browser's calls to the API with CORS configured.
CORS_REQUESTS: list[tuple[str, str, bytes, dict[str, str]]] = [
    ("OPTIONS", "/api/v1/chat", b"", PREFLIGHT),
    ("OPTIONS", "/v1/chat/completions", b"", {**PREFLIGHT, "Access-Control-Request-Headers": "a"}),
    ("OPTIONS", "/api/v1/chat", b"", {**PREFLIGHT, "Origin": "https://elsewhere.example.com"}),
    ("OPTIONS", "/v1/chat/completions", b"", {**PREFLIGHT, "Access-Control-Request-Method": "PUT"}),
    ("POST", "/api/v1/chat", rest("hello"), {**KEY, **JSON, "Origin": ORIGIN}),
    ("POST", "/api/v1/chat", rest("hello"), {**KEY, **JSON, "Origin": "https://elsewhere.example"}),
    ("POST", "/api/v1/chat", rest("hello"), {**KEY, **JSON}),
    ("POST", "/v1/chat/completions", v1("hello"), {**KEY, **JSON, "Origin": ORIGIN}),
    ("POST", "/v1/chat/completions", v1("hello"), {**JSON, "Origin": ORIGIN}),
    ("POST", "/api/v1/chat", rest("y" * LIMIT), {**KEY, **JSON, "Origin": ORIGIN}),
    ("GET", "/healthz", b"", {"Origin": ORIGIN}),
]


async def test_cors_preflights_and_calls_are_answered_in_front_as_the_full_app_answers_them(
    cors_served: tuple[GatewayApp, Seen],
) -> None:
    for n, request in enumerate(CORS_REQUESTS):
        hot, full = await front_and_full(cors_served, request, n)
        assert comparable(hot, f"hot{n}") == comparable(full, f"full{n}"), request[:2]
        assert cors_headers(hot) == cors_headers(full), request[:2]
    app, seen = cors_served
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        # An OPTIONS that is no preflight: the full app's answer (405), as before.
        plain = await client.options("/api/v1/chat", headers={"Origin": ORIGIN})
    assert plain.status_code == 405
    assert seen.paths == ["/api/v1/chat"]


async def test_an_unexpected_error_is_still_a_json_answer(
    served: tuple[GatewayApp, Seen],
) -> None:
    """An error no handler names (a driver's exception class nobody mapped, a bug) was the
    server's plain-text 500; an API client gets the JSON error every answer promises."""
    app, _seen = served
    layer = hot_layer(app)

    async def broken(_request: Any) -> Any:
        raise RuntimeError("a failure nobody mapped")

    layer._endpoints = {key: broken for key in layer._endpoints}
    chinese = {**KEY, "Accept-Language": "zh-CN", "Content-Type": "application/json"}
    rest = await call(
        app, "/api/v1/chat", b'{"session_id": "SESSION", "message": "hi"}', chinese, "x"
    )
    assert rest.status_code == 500
    error = rest.json()["error"]
    assert error["code"] == "internal_error" and "详情见日志" in error["message"]
    assert rest.headers["x-request-id"] in error["message"]
    openai = await call(app, "/v1/chat/completions", v1("hi"), chinese, "y")
    assert openai.status_code == 500 and openai.json()["error"]["type"] == "server_error"
