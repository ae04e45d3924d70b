"""An error no handler names, raised in a route of the full app (any route but the per-message
endpoints and the probes: the webhook channel's `POST /api/v1/messages`, `/v1/embeddings`…),
is answered as the per-message endpoints answer it (gateway/errors.py `unexpected`): status 500
with the API's JSON error — OpenAI's under /v1, so its SDK raises `InternalServerError` with
the message, ours under /api/v1 naming the request id — no exception text in the body, and the
traceback logged once, at error level, under the response's `x-request-id`. It was Starlette's
plain-text "Internal Server Error", which an OpenAI client could not read.

And `HEAD` of a GET route of the full app is answered as its GET without the body, where
FastAPI refused it 405.

The server is the one `ai-bot run` starts (cli/serve.py), in this process on 127.0.0.1, so a
part of the gateway can be made to fail with a plain `RuntimeError`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import aiohttp
import openai
import orjson
import pytest
import structlog
from fastapi import FastAPI
from structlog.testing import capture_logs

from aibot.channels.http_bodies import REFUSALS
from aibot.cli.serve import GatewayServer, server_config
from aibot.config import Config, LoadedConfig
from aibot.gateway.asgi import create_app
from aibot.gateway.lazy_app import GatewayApp
from aibot.i18n import translate
from tests.fakes.openai_server import FakeOpenAI
from tests.support.gateway import API_KEY, base_config, deep_merge

KEY = {"Authorization": f"Bearer {API_KEY}"}
FAILURE = "the driver said: row 42 of table secrets is locked"  # must stay in the log
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"


async def fails(*_args: Any, **_kwargs: Any) -> Any:
    """A part of the gateway failing in a way no handler names (a bug, or a driver's error
    class nobody mapped yet)."""
    raise RuntimeError(FAILURE)


@pytest.fixture
async def gateway(fake_llm: FakeOpenAI, tmp_path: Path) -> AsyncIterator[tuple[GatewayApp, str]]:
    """A started gateway with the webhook channel and embeddings, served on 127.0.0.1."""
    extra = {
        "channels": {"webhook": {"callback_url": "http://127.0.0.1:9/replies"}},
        "models": {"providers": {"fake": {"embedding_model": "emb-1", "max_retries": 0}}},
    }
    config = Config.model_validate(deep_merge(base_config(tmp_path, fake_llm), extra))
    app = create_app(LoadedConfig(config=config, path=None))
    server = GatewayServer(server_config(app, config), serving=app.serving)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            assert not task.done(), "the server stopped before it listened"
            await asyncio.sleep(0.01)
    try:
        yield app, f"http://127.0.0.1:{config.server.port}"
    finally:
        server.should_exit = True
        await task


def failures(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    """The error-level lines logged while the requests were answered."""
    return [line for line in logs if line["log_level"] in ("error", "critical")]


def traceback_of(line: MutableMapping[str, Any]) -> str:
    """The line's traceback as the log's renderers write it."""
    rendered = structlog.processors.format_exc_info(None, "error", dict(line))
    return str(rendered.get("exception", ""))


def no_server_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """The server's own report of an exception that reached it ("Exception in ASGI
    application" and the traceback again) is not written: the gateway logged it once."""
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_an_unexpected_error_under_v1_is_openais_500(
    gateway: tuple[GatewayApp, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, url = gateway
    monkeypatch.setattr(app.state.gateway.router.providers["fake"], "embeddings", fails)
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=API_KEY, max_retries=0)
    with capture_logs() as logs, pytest.raises(openai.InternalServerError) as caught:
        async with client:
            await client.embeddings.create(model="fake", input="hello")
    error = caught.value
    assert error.status_code == 500
    assert error.message == f"Error code: 500 - {SERVER_ERROR}"
    assert error.body == {
        "message": SERVER_ERROR,
        "type": "server_error",
        "param": None,
        "code": None,
    }
    assert error.type == "server_error"
    assert FAILURE not in error.response.text
    [line] = failures(logs)
    assert (line["event"], line["path"]) == ("request failed", "/v1/embeddings")
    assert line["request_id"] == error.request_id and error.request_id
    assert "Traceback (most recent call last)" in traceback_of(line)
    assert FAILURE in traceback_of(line) and "in fails" in traceback_of(line)
    no_server_traceback(caplog)


@pytest.mark.parametrize("language", ["zh-CN", "en"])
async def test_an_unexpected_error_under_api_v1_is_our_500(
    gateway: tuple[GatewayApp, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    language: str,
) -> None:
    app, url = gateway
    monkeypatch.setattr(app.state.gateway.inbox, "accept", fails)
    message = {"message_id": "m-1", "session_id": "s-1", "message": "hello"}
    headers = {**KEY, "Accept-Language": language}
    with capture_logs() as logs:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{url}/api/v1/messages", json=message, headers=headers) as answer,
        ):
            status, text = answer.status, await answer.text()
            kind, request_id = answer.content_type, answer.headers.get("x-request-id", "")
    assert (status, kind) == (500, "application/json"), text
    said = translate(language, REFUSALS["internal_error"], request_id=request_id)
    assert orjson.loads(text) == {"error": {"message": said, "code": "internal_error"}}
    assert request_id and FAILURE not in text
    [line] = failures(logs)
    assert (line["event"], line["path"]) == ("request failed", "/api/v1/messages")
    assert line["request_id"] == request_id
    assert FAILURE in traceback_of(line) and "in fails" in traceback_of(line)
    no_server_traceback(caplog)


async def test_a_page_that_fails_shows_no_traceback(
    gateway: tuple[GatewayApp, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages keep the server's plain 500: a browser gets neither JSON nor the exception."""
    _app, url = gateway

    def page_fails(_language: str) -> str:
        raise RuntimeError(FAILURE)

    monkeypatch.setattr("aibot.channels.webchat.channel.render", page_fails)
    async with aiohttp.ClientSession() as http, http.get(f"{url}/") as page:
        assert (page.status, await page.text()) == (500, "Internal Server Error")


async def test_head_of_a_get_route_is_its_get_without_the_body(
    gateway: tuple[GatewayApp, str],
) -> None:
    _app, url = gateway
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{url}/v1/models", headers=KEY) as got:
            body = await got.read()
            get_headers = {k.lower(): v for k, v in got.headers.items()}
        async with http.head(f"{url}/v1/models", headers=KEY) as head:
            assert head.status == 200
            assert await head.read() == b""
            head_headers = {k.lower(): v for k, v in head.headers.items()}
        # A route that has no GET still refuses HEAD, as it did.
        async with http.head(f"{url}/api/v1/messages", headers=KEY) as post_only:
            assert post_only.status == 405
            assert post_only.headers["allow"] == "POST"
    assert body.startswith(b'{"object":"list"')
    for headers in (get_headers, head_headers):
        headers.pop("x-request-id")
        headers.pop("date", None)
    assert head_headers == get_headers


async def test_routes_that_cannot_be_built_answer_as_a_failing_route_does(
    gateway: tuple[GatewayApp, str],
) -> None:
    """The full app's build failing (a bug, a broken install) answers the API's JSON 500 under
    the API's paths and a plain 500 elsewhere, each logged once; the next request builds."""
    app, url = gateway
    lazy = app._full
    build = lazy._build
    lazy._app, lazy._build = None, fails_now  # as at a start, before any request built it
    embed = {"model": "fake", "input": "hi"}
    with capture_logs() as logs:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{url}/v1/embeddings", headers=KEY, json=embed) as got:
                assert got.status == 500
                assert (await got.json())["error"]["type"] == "server_error"
            async with http.post(f"{url}/api/v1/messages", headers=KEY, json={}) as got:
                assert got.status == 500
                body = await got.json()
                assert FAILURE not in orjson.dumps(body).decode()
            async with http.get(f"{url}/robots.txt") as got:
                assert (got.status, await got.text()) == (500, "Internal Server Error")
            lazy._build = build
            async with http.post(f"{url}/v1/embeddings", headers=KEY, json=embed) as got:
                assert got.status == 200
    lines = failures(logs)
    assert len(lines) == 3
    assert all(FAILURE in traceback_of(line) for line in lines)


def fails_now() -> FastAPI:
    raise RuntimeError(FAILURE)
