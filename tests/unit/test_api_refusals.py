"""Every refusal of the REST API, the webhook channel and the page's uploads is said the same
way: `{"error": {"message", "code"}}`, its message a catalog entry (`REFUSALS`, or an
attachment's reply) in the caller's language — the body limit's 413 included, which answered
in English alone (and in another shape) while a slightly smaller file was refused in Chinese.
Under `/v1` the errors stay OpenAI's, in its words."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from string import Formatter
from typing import Any

import httpx
import orjson
import pytest
from starlette.requests import Request

from aibot.admin.access_tokens import TOKENS_PER_MINUTE
from aibot.admin.keys import ApiKeyStore
from aibot.channels.api_keys import ApiKeys
from aibot.channels.http_api.rest import failure_response
from aibot.channels.http_bodies import REFUSALS
from aibot.config import Config, LoadedConfig
from aibot.core.errors import QueueFull
from aibot.gateway.asgi import create_app
from aibot.gateway.errors import error_handlers, unexpected
from aibot.gateway.lazy_app import GatewayApp
from aibot.i18n import translate
from tests.support.gateway import API_KEY

KEY = {"Authorization": f"Bearer {API_KEY}"}
SCOPED: dict[str, str] = {}  # a key of scope `rest`, made by the fixture
LIMIT = 2048  # server.max_body_bytes
MEDIA = 1024  # media.max_bytes: an upload may be up to MEDIA + 64 KiB
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = Config.model_validate(
        {
            "storage": {"url": f"sqlite:///{tmp_path / 'ai-bot.db'}"},
            "server": {"max_body_bytes": LIMIT, "max_message_chars": 100},
            "media": {"max_bytes": MEDIA},
            "channels": {
                "api": {"keys": [API_KEY]},
                "webhook": {"callback_url": "http://127.0.0.1:9/replies"},
            },
            "models": {  # nothing listens on port 9: every model call fails at once
                "default": "down",
                "providers": {
                    "down": {"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_retries": 0}
                },
            },
        }
    )
    app: GatewayApp = create_app(LoadedConfig(config=config, path=None))
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")
    async with app.lifespan(), http:
        gateway = app.state.gateway
        # A key the console made for the REST API alone: it may not get an `all` token.
        scoped, _ = await ApiKeyStore(gateway.engine).create("rest", "rest", "test", 0.0, None)
        await gateway.keys.refresh()
        SCOPED["Authorization"] = f"Bearer {scoped}"
        yield http


def files(*sizes: int) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("file", (f"{n}.txt", b"a" * size, "text/plain")) for n, size in enumerate(sizes)]


CHAT = "/api/v1/chat"
FORM = HI = {"session_id": "s-1", "message": "hi"}
# (what, method, path, request arguments) -> (status, code)
REFUSED: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    ("no key", "POST", CHAT, {"json": HI}, 401, "invalid_api_key"),
    ("bad body", "POST", CHAT, {"json": {"message": 12}, "headers": KEY}, 422, "invalid_request"),
    ("long", "POST", CHAT, {"json": {"session_id": "s", "message": "x" * 101}, "headers": KEY},
     413, "message_too_long"),
    ("big JSON", "POST", CHAT, {"json": {"session_id": "s", "message": "y" * LIMIT},
     "headers": KEY}, 413, "body_too_large"),
    ("model down", "POST", CHAT, {"json": HI, "headers": KEY}, 502, "model_unavailable"),
    ("big file", "POST", CHAT, {"files": files(MEDIA + 1), "data": FORM, "headers": KEY},
     413, "attachment_too_big"),
    ("huge upload", "POST", CHAT, {"files": files(MEDIA + 70_000), "data": FORM, "headers": KEY},
     413, "body_too_large"),
    ("11 files", "POST", CHAT, {"files": files(*[1] * 11), "data": FORM, "headers": KEY},
     400, "unreadable_body"),
    ("token, scoped key", "POST", "/api/v1/token", {"json": {"scope": "all"}, "headers": SCOPED},
     403, "scope_not_allowed"),
    ("webhook, no key", "POST", "/api/v1/messages", {"json": {}}, 401, "invalid_api_key"),
    ("webhook, long", "POST", "/api/v1/messages", {"json": {"message_id": "m", "session_id": "s",
     "message": "x" * 101}, "headers": KEY}, 413, "message_too_long"),
    ("page, cross-site", "POST", "/web/upload?session_id=page-one",
     {"files": files(1), "headers": {"Origin": "https://elsewhere.example"}}, 403, "cross_origin"),
    ("page, no session", "POST", "/web/upload", {"files": files(1)}, 422, "invalid_session"),
    ("page, no file", "POST", "/web/upload?session_id=page-one", {"data": {"x": "1"}},
     422, "no_file"),
    ("page, two files", "POST", "/web/upload?session_id=page-one", {"files": files(1, 1)},
     400, "unreadable_body"),
    ("page, big file", "POST", "/web/upload?session_id=page-one", {"files": files(MEDIA + 1)},
     413, "attachment_too_big"),
    ("page, huge file", "POST", "/web/upload?session_id=page-one", {"files": files(MEDIA + 70_000)},
     413, "body_too_large"),
]  # fmt: skip


async def test_every_refusal_is_said_in_the_callers_language_in_one_shape(
    client: httpx.AsyncClient,
) -> None:
    codes = set()
    for what, method, path, arguments, status, code in REFUSED:
        for language in ("zh-CN", "en"):
            headers = {**arguments.get("headers", {}), "Accept-Language": language}
            answer = await client.request(method, path, **{**arguments, "headers": headers})
            body = answer.json()
            assert answer.status_code == status and list(body) == ["error"], (what, body)
            error = body["error"]
            assert sorted(error) == ["code", "message"], (what, error)
            assert error["code"] == code, (what, error)
            assert bool(CJK.search(error["message"])) == (language == "zh-CN"), (what, error)
        codes.add(code)
    for _ in range(TOKENS_PER_MINUTE + 1):  # the key's tokens a minute, and one more
        answer = await client.post("/api/v1/token", headers={**KEY, "Accept-Language": "zh"})
    assert answer.status_code == 429 and answer.headers["retry-after"] == "60"
    assert answer.json() == {
        "error": {
            "message": "此密钥一分钟内申请的令牌超过了 60 个。",
            "code": "rate_limit_exceeded",
        }
    }
    codes.add("rate_limit_exceeded")
    codes |= await said_without_a_request()
    assert set(REFUSALS) <= codes  # a refusal added to the table is added here too


async def test_a_streamed_answer_ends_with_the_same_refusal(client: httpx.AsyncClient) -> None:
    for language in ("zh-CN", "en"):
        headers = {**KEY, "Accept-Language": language}
        answer = await client.post(CHAT, json={**HI, "stream": True}, headers=headers)
        last = orjson.loads(answer.text.strip().splitlines()[-1].removeprefix("data: "))
        assert (last["type"], last["code"]) == ("error", "model_unavailable"), last
        assert bool(CJK.search(last["message"])) == (language == "zh-CN"), last


async def said_without_a_request() -> set[str]:
    """The refusals no request here can cause (a full queue, a store that is down, a failure
    no handler names)."""
    request = Request(
        {"type": "http", "method": "POST", "path": CHAT, "headers": [(b"accept-language", b"zh")]}
    )
    busy = failure_response(request, QueueFull("9 messages are already waiting"))
    down = await error_handlers(ApiKeys([API_KEY]))[ConnectionError](request, ConnectionError())
    said = set()
    for answer, status, code in ((busy, 503, "overloaded"), (down, 503, "store_unavailable")):
        assert answer.status_code == status and answer.headers["retry-after"] == "1"
        error = {"message": translate("zh-CN", REFUSALS[code]), "code": code}
        assert orjson.loads(answer.body) == {"error": error}
        said.add(code)
    failed = unexpected(request, RuntimeError("a failure nobody mapped"))
    error = orjson.loads(failed.body)["error"]
    assert failed.status_code == 500 and error["code"] == "internal_error"
    assert error["message"] == translate("zh-CN", REFUSALS["internal_error"], request_id="-")
    return said | {"internal_error"}


def test_every_refusal_has_natural_chinese() -> None:
    for code, msgid in REFUSALS.items():
        values = {name: "1" for _, name, _, _ in Formatter().parse(msgid) if name}
        assert CJK.search(translate("zh-CN", msgid, **values)), code


async def test_v1_keeps_openais_shape_and_words(client: httpx.AsyncClient) -> None:
    big = {"model": "down", "messages": [{"role": "user", "content": "z" * LIMIT}]}
    answer = await client.post(
        "/v1/chat/completions", json=big, headers={**KEY, "Accept-Language": "zh-CN"}
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "error": {
            "message": f"request body larger than {LIMIT} bytes",
            "type": "invalid_request_error",
            "param": None,
            "code": "body_too_large",
        }
    }
