"""The per-message endpoints and the probes served past FastAPI (gateway/hot_routes.py): they
are taken there, and every answer — success, refusal, error, stream — is the one the full app
gives to the same request, with the same headers and the configured secrets masked."""

from __future__ import annotations

from collections.abc import AsyncIterator
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


@pytest.fixture
async def served(fake_llm: FakeOpenAI, tmp_path: Path) -> AsyncIterator[tuple[GatewayApp, Seen]]:
    config = Config.model_validate(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'ai-bot.db'}"},
            "server": {"max_body_bytes": LIMIT, "public_url": "https://bot.example.com"},
            "channels": {"api": {"keys": [API_KEY]}},
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


async def call(
    app: GatewayApp, path: str, body: bytes, headers: dict[str, str], session: str
) -> httpx.Response:
    """POSTs the request, in a conversation of its own (SESSION replaced by `session`)."""
    body = body.replace(b"SESSION", session.encode())
    headers = {k: v.replace("SESSION", session) for k, v in headers.items()}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.post(path, content=body, headers=headers)


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
    app, seen = served
    layer = hot_layer(app)
    for n, (path, body, headers) in enumerate(REQUESTS):
        hot = await call(app, path, body, headers, f"hot{n}")
        assert seen.paths == [], f"{path} went through the full stack"
        endpoints, layer._endpoints = layer._endpoints, {}
        try:
            full = await call(app, path, body, headers, f"full{n}")
        finally:
            layer._endpoints = endpoints
        assert seen.paths == [path]
        seen.paths.clear()
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
    app, seen = served
    layer = hot_layer(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for path in ("/healthz", "/readyz", "/metrics"):
            hot = await client.get(path, headers={"Accept-Language": "zh-CN"})
            assert seen.paths == [], f"{path} went through the full stack"
            endpoints, layer._endpoints = layer._endpoints, {}
            try:
                full = await client.get(path, headers={"Accept-Language": "zh-CN"})
            finally:
                layer._endpoints = endpoints
            assert seen.paths == [path]
            seen.paths.clear()
            assert comparable(hot, "-") == comparable(full, "-"), path
            assert hot.headers["content-type"] == full.headers["content-type"]
            assert "x-request-id" not in hot.headers  # given under the API's paths only
            assert hot.headers["strict-transport-security"] == "max-age=31536000"
        # Not GET: the full app's answer (405), as before.
        assert (await client.post("/healthz")).status_code == 405
