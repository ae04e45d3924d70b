"""The OpenAI fake's tools, structured output, choices, logprobs, usage details, embeddings and
request checks, each parsed by the official ``openai`` SDK as it parses OpenAI's own answers.

The /v1 contract tests trust these shapes: if the SDK's parsers and helpers (``parse()``,
``stream()``'s accumulated tool calls, base64 embeddings) accept them here, they test the gateway
against what OpenAI sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.fakes.openai_answers import WEATHER_TOOL
from tests.fakes.openai_server import CallTools, FakeOpenAI, StreamError

WEATHER: Any = WEATHER_TOOL
ASK: Any = [{"role": "user", "content": "Paris"}]


class Forecast(BaseModel):
    city: str
    celsius: float
    sunny: bool


@pytest.fixture
async def sdk() -> AsyncIterator[tuple[FakeOpenAI, openai.AsyncOpenAI]]:
    async with (
        FakeOpenAI(strict_fields=True, strict_models=True, models=["gpt-x"]) as fake,
        openai.AsyncOpenAI(base_url=fake.base_url, api_key="k", max_retries=0) as client,
    ):
        yield fake, client


async def test_tool_call_round_trip(sdk: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    _fake, client = sdk
    first = await client.chat.completions.create(model="gpt-x", messages=ASK, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert call.function.arguments == '{"city":"Paris","days":1}'

    history: Any = [
        *ASK,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = await client.chat.completions.create(model="gpt-x", messages=history, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content == "echo: Paris"


async def test_streamed_tool_calls_accumulate(sdk: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    fake, client = sdk
    fake.script(CallTools((("a", '{"x": 1}'), ("b", "{}"))))
    async with client.chat.completions.stream(
        model="gpt-x", messages=ASK, tools=[WEATHER]
    ) as stream:
        final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("a", '{"x": 1}'),
        ("b", "{}"),
    ]
    assert final.choices[0].finish_reason == "tool_calls"


async def test_tool_message_without_its_call_is_refused(
    sdk: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    _fake, client = sdk
    orphan: Any = [*ASK, {"role": "tool", "tool_call_id": "call_1", "content": "x"}]
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="gpt-x", messages=orphan)
    assert "must be a response to a preceeding message with 'tool_calls'" in caught.value.message


async def test_parse_with_a_pydantic_model(sdk: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    fake, client = sdk
    parsed = await client.chat.completions.parse(
        model="gpt-x", messages=ASK, response_format=Forecast
    )
    assert parsed.choices[0].message.parsed == Forecast(city="text", celsius=1.5, sunny=True)
    sent = fake.chat_requests()[-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["strict"] is True


async def test_n_choices_logprobs_and_usage_details(
    sdk: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    _fake, client = sdk
    resp = await client.chat.completions.create(
        model="gpt-x", messages=ASK, n=2, logprobs=True, top_logprobs=2, seed=7
    )
    assert [c.message.content for c in resp.choices] == ["echo: Paris", "echo: Paris #2"]
    assert [c.index for c in resp.choices] == [0, 1]
    logprobs = resp.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert "".join(t.token for t in logprobs.content) == "echo: Paris"
    assert len(logprobs.content[0].top_logprobs) == 2
    assert resp.usage is not None and resp.usage.completion_tokens_details is not None
    assert resp.usage.prompt_tokens_details is not None
    assert resp.system_fingerprint == "fp_fake"


async def test_streamed_n_choices(sdk: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    _fake, client = sdk
    stream = await client.chat.completions.create(
        model="gpt-x",
        messages=ASK,
        n=2,
        stream=True,
        stream_options={"include_usage": True},
        logprobs=True,
    )
    texts = ["", ""]
    usage = None
    async for chunk in stream:
        for choice in chunk.choices:
            texts[choice.index] += choice.delta.content or ""
        usage = chunk.usage or usage
    assert texts == ["echo: Paris", "echo: Paris #2"]
    assert usage is not None and usage.total_tokens > 0


async def test_requests_openai_refuses(sdk: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    _fake, client = sdk
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="gpt-x", messages=ASK, stream_options={"include_usage": True}
        )
    assert caught.value.param == "stream_options"
    with pytest.raises(openai.BadRequestError) as unknown:
        await client.chat.completions.create(
            model="gpt-x", messages=ASK, extra_body={"enable_thinking": True}
        )
    assert "Unrecognized request argument supplied: enable_thinking" in unknown.value.message
    with pytest.raises(openai.NotFoundError) as missing:
        await client.chat.completions.create(model="nope", messages=ASK)
    assert missing.value.code == "model_not_found"


async def test_models_by_id_and_request_ids(sdk: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    _fake, client = sdk
    model = await client.models.retrieve("gpt-x")
    assert (model.id, model.owned_by, model.created) == ("gpt-x", "fake", 1700000000)
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("other")
    raw = await client.chat.completions.with_raw_response.create(model="gpt-x", messages=ASK)
    assert raw.headers["x-request-id"].startswith("req_")


async def test_embeddings_float_and_base64(sdk: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    fake, client = sdk
    default = await client.embeddings.create(model="emb", input=["a", "b"])
    assert fake.requests[-1].json["encoding_format"] == "base64"  # the SDK's default
    floats = await client.embeddings.create(model="emb", input="a", encoding_format="float")
    assert [d.index for d in default.data] == [0, 1]
    assert default.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-6)
    assert default.data[0].embedding != default.data[1].embedding
    assert len(floats.data[0].embedding) == 8
    assert default.usage.total_tokens > 0


async def test_stream_error_event_mid_answer(sdk: tuple[FakeOpenAI, openai.AsyncOpenAI]) -> None:
    fake, client = sdk
    fake.script(StreamError(after_chunks=3))
    stream = await client.chat.completions.create(model="gpt-x", messages=ASK, stream=True)
    seen = ""
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            seen += chunk.choices[0].delta.content or ""
    assert seen == "echo: Pa"  # the role chunk, then two pieces of four characters
    assert "inappropriate content" in caught.value.message
