"""/v1's errors, memory, policies and browser access, with the official `openai` SDK as the
oracle: the SDK must raise the class it raises against OpenAI (`RateLimitError`,
`BadRequestError`, `NotFoundError`, `AuthenticationError`), and each vendor error is first
provoked on the fake directly to prove the fake answers it as OpenAI does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import orjson
import pytest
import pytest_asyncio

from tests.fakes.openai_server import Fail, Reply, StreamError
from tests.support.gateway import API_KEY
from tests.support.v1_rig import V1Rig, v1_rig

pytestmark = pytest.mark.asyncio(loop_scope="module")

MODEL = "fake-model"
# Each test names its own end users (`user`): the per-user limit (4/minute) is the test's own.
ASK: Any = [{"role": "user", "content": "Paris"}]
# A conversation name with a line break in it (log injection), refused before anything runs.
HOSTILE_SESSION = orjson.dumps(
    {"model": "fake-model", "messages": [{"role": "user", "content": "x"}],
     "metadata": {"session_id": "a\nforged log line"}}
)  # fmt: skip
POLICY = {
    "policy": {
        "sensitive_words": {"words": ["forbidden", "banned word"], "action": "block"},
        "rate_limit": {"per_user": "4/minute"},
    },
    "routes": [{"name": "hours", "match": {"regex": "opening hours"}, "reply": "We open at 9."}],
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[V1Rig]:
    async with v1_rig(tmp_path_factory.mktemp("v1-errors"), POLICY) as running:
        yield running


async def sse_lines(rig: V1Rig, body: dict[str, Any]) -> tuple[int, list[bytes]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{rig.gw.url}/v1/chat/completions", json=body, headers=rig.gw.headers) as r,
    ):
        return r.status, [line.strip() async for line in r.content if line.strip()]


async def test_upstream_429_is_a_rate_limit_error_with_retry_after(rig: V1Rig) -> None:
    rig.fake.script(Fail(429, retry_after=0.05))
    async with rig.direct() as direct:
        with pytest.raises(openai.RateLimitError):
            await direct.chat.completions.create(model=MODEL, messages=ASK)
    before = len(rig.fake.chat_requests())
    rig.fake.script(Fail(429, retry_after=0.05), Fail(429, retry_after=0.05))
    async with rig.gateway() as client:
        with pytest.raises(openai.RateLimitError) as caught:
            await client.chat.completions.create(model=MODEL, messages=ASK, user="rl")
    assert caught.value.status_code == 429 and caught.value.code == "rate_limit_exceeded"
    assert caught.value.response.headers["retry-after"] == "1"
    assert len(rig.fake.chat_requests()) - before == 2  # one try and max_retries: 1, no more


async def test_upstream_400_is_returned_not_retried(rig: V1Rig) -> None:
    orphan: Any = [*ASK, {"role": "tool", "tool_call_id": "call_9", "content": "x"}]
    async with rig.direct() as direct:
        with pytest.raises(openai.BadRequestError) as alone:
            await direct.chat.completions.create(model=MODEL, messages=orphan)
    before = len(rig.fake.chat_requests())
    async with rig.gateway() as client:
        with pytest.raises(openai.BadRequestError) as through:
            await client.chat.completions.create(model=MODEL, messages=orphan, user="b")
    assert through.value.message == alone.value.message
    assert through.value.param == alone.value.param == "messages.[1].role"
    assert len(rig.fake.chat_requests()) - before == 1


async def test_unknown_model_and_wrong_key(rig: V1Rig) -> None:
    async with rig.direct() as direct:
        with pytest.raises(openai.NotFoundError) as alone:
            await direct.chat.completions.create(model="nope", messages=ASK)
    async with rig.gateway() as client:
        with pytest.raises(openai.NotFoundError) as through:
            await client.chat.completions.create(model="nope", messages=ASK)
    assert alone.value.code == through.value.code == "model_not_found"
    async with rig.gateway(key="wrong") as client:
        with pytest.raises(openai.AuthenticationError) as denied:
            await client.chat.completions.create(model=MODEL, messages=ASK)
    assert denied.value.code == "invalid_api_key"


async def test_every_v1_error_has_openai_shape_and_a_request_id(rig: V1Rig) -> None:
    async with aiohttp.ClientSession() as http:
        cases = [
            ("GET", "/v1/nothing", None, 404),
            ("GET", "/v1/chat/completions", None, 405),
            ("POST", "/v1/chat/completions", b"{not json", 400),
            ("POST", "/v1/chat/completions", b'{"model": "x", "messages": []}', 400),
            ("POST", "/v1/chat/completions", b"x" * 2_000_000, 413),
            ("POST", "/v1/chat/completions", HOSTILE_SESSION, 400),
            ("POST", "/v1/embeddings", b"[1, 2]", 400),
            ("GET", "/v1/models/..%2f..%2fetc%2fpasswd", None, 404),
        ]
        messages = []
        for method, path, data, status in cases:
            async with http.request(
                method, rig.gw.url + path, data=data, headers=rig.gw.headers
            ) as response:
                body = orjson.loads(await response.read())
                assert response.status == status, (path, body)
                assert set(body["error"]) == {"message", "type", "param", "code"}, body
                assert len(response.headers["x-request-id"]) == 32
                messages.append(body["error"]["message"])
    assert messages[0] == "Invalid URL (GET /v1/nothing)"


async def test_failure_mid_stream_ends_with_an_error_event_and_done(rig: V1Rig) -> None:
    rig.fake.script(StreamError(after_chunks=3))
    status, lines = await sse_lines(
        rig, {"model": MODEL, "messages": ASK, "stream": True, "user": "mid"}
    )
    assert status == 200
    assert lines[-1] == b"data: [DONE]"
    error = orjson.loads(lines[-2][5:])["error"]
    assert "inappropriate content" in error["message"]
    rig.fake.script(StreamError(after_chunks=3))
    async with rig.gateway() as client:
        stream = await client.chat.completions.create(
            model=MODEL, messages=ASK, stream=True, user="mid2"
        )
        with pytest.raises(openai.APIError):
            async for _chunk in stream:
                pass


async def test_memory_only_with_a_session(rig: V1Rig) -> None:
    async with rig.gateway() as client:
        for text in ("my secret is 4242", "what is my secret?"):
            await client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": text}],
                extra_headers={"X-Session-Id": "chat-1"},
                user="mem",
            )
        remembered = rig.upstream()["messages"]
        await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "and now?"}],
            metadata={"session_id": "chat-1"},
            user="mem",
        )
        via_metadata = rig.upstream()["messages"]
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "a second chat"}], user="mem"
        )
        only_user = rig.upstream()["messages"]
        given: Any = [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ]
        await client.chat.completions.create(
            model=MODEL, messages=given, extra_headers={"X-Session-Id": "chat-1"}, user="mem2"
        )
        client_history = rig.upstream()["messages"]
    assert [m["content"] for m in remembered] == [
        "my secret is 4242",
        "echo: my secret is 4242",
        "what is my secret?",
    ]
    assert len(via_metadata) == 5
    assert only_user == [{"role": "user", "content": "a second chat"}]  # `user` is no session
    assert client_history == given  # the caller's own history wins


async def test_gateway_refusals_are_errors(rig: V1Rig) -> None:
    async with rig.gateway() as client:
        with pytest.raises(openai.BadRequestError) as blocked:
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "a forbidden thing"}]
            )
        for _ in range(4):
            await client.chat.completions.create(model=MODEL, messages=ASK, user="busy")
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model=MODEL, messages=ASK, user="busy")
        other = await client.chat.completions.create(model=MODEL, messages=ASK, user="calm")
        status, _ = await sse_lines(
            rig, {"model": MODEL, "messages": ASK, "stream": True, "user": "busy"}
        )
    assert blocked.value.code == "content_filter"
    assert limited.value.code == "rate_limit_exceeded"
    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert other.choices[0].message.content == "echo: Paris"  # limits are per end user
    assert status == 429  # streamed too: an error status, not an empty 200 stream


async def test_blocked_output_finishes_with_content_filter(rig: V1Rig) -> None:
    async with rig.gateway() as client:
        rig.fake.script(Reply("here is the banned word, sorry"))
        plain = await client.chat.completions.create(model=MODEL, messages=ASK, user="out")
        rig.fake.script(Reply("here is the banned word, sorry"))
        stream = await client.chat.completions.create(
            model=MODEL, messages=ASK, stream=True, user="out"
        )
        text, finish = "", None
        async for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
    assert plain.choices[0].message.content == "here is the ***, sorry"
    assert plain.choices[0].finish_reason == "content_filter"
    assert (text, finish) == ("here is the ***, sorry", "content_filter")


async def test_route_replies_stream_and_commands_do_not_run_stateless(rig: V1Rig) -> None:
    async with rig.gateway() as client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "opening hours?"}],
            stream=True,
            user="route",
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        helped = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "/help"}], user="route"
        )
    assert text == "We open at 9."
    assert helped.choices[0].message.content == "echo: /help"  # the model answered


async def test_cors_preflight_for_listed_origins_only(rig: V1Rig) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with aiohttp.ClientSession() as http:
        url = f"{rig.gw.url}/v1/chat/completions"
        async with http.options(url, headers={**preflight, "Origin": "https://chat.example"}) as r:
            assert r.status == 200
            assert r.headers["access-control-allow-origin"] == "https://chat.example"
            assert "authorization" in r.headers["access-control-allow-headers"].lower()
        async with http.options(url, headers={**preflight, "Origin": "https://evil.example"}) as r:
            assert "access-control-allow-origin" not in r.headers
        headers = {"Authorization": f"Bearer {API_KEY}", "Origin": "https://chat.example"}
        async with http.post(url, json={"model": MODEL, "messages": ASK}, headers=headers) as r:
            assert r.status == 200
            assert r.headers["access-control-allow-origin"] == "https://chat.example"
        async with http.get(
            f"{rig.gw.url}/healthz", headers={"Origin": "https://chat.example"}
        ) as r:
            assert "access-control-allow-origin" not in r.headers  # the API paths only
