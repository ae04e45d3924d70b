"""The official `openai` SDK (async and sync) as the oracle of /v1's fidelity.

Each test runs the same client code against the OpenAI fake directly and through the gateway:
the outcome must be the same, and (stateless) the body the fake received the same but for the
model name — the gateway is a faithful proxy. Tools round trip plain and streamed, `parse()`
with a pydantic model, `n`, `stop` and the sampling fields, images, models, embeddings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
import pytest_asyncio
from openai.types.chat import ChatCompletionMessageFunctionToolCall
from pydantic import BaseModel

from tests.fakes.openai_answers import WEATHER_TOOL
from tests.support.v1_rig import TEAM_KEY, V1Rig, v1_rig

pytestmark = pytest.mark.asyncio(loop_scope="module")

WEATHER: Any = WEATHER_TOOL
ASK: Any = [{"role": "user", "content": "Paris"}]
MODEL = "fake-model"


class Forecast(BaseModel):
    city: str
    celsius: float
    sunny: bool


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[V1Rig]:
    async with v1_rig(tmp_path_factory.mktemp("v1-sdk")) as running:
        yield running


def without_model(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "model"}


async def test_tools_round_trip(rig: V1Rig) -> None:
    async def scenario(client: openai.AsyncOpenAI) -> tuple[Any, ...]:
        first = await client.chat.completions.create(
            model=MODEL,
            messages=ASK,
            tools=[WEATHER],
            tool_choice="auto",
            parallel_tool_calls=False,
        )
        message = first.choices[0].message
        [call] = message.tool_calls or []
        assert isinstance(call, ChatCompletionMessageFunctionToolCall)
        history: Any = [
            *ASK,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ]
        second = await client.chat.completions.create(
            model=MODEL, messages=history, tools=[WEATHER]
        )
        assert second.choices[0].finish_reason == "stop"
        return first.choices[0].finish_reason, call.function.name, call.function.arguments

    alone, through, sent_alone, sent = await rig.both(scenario)
    assert alone == through == ("tool_calls", "get_weather", '{"city":"Paris","days":1}')
    assert sent == sent_alone  # the tool call and its result reached the model unchanged
    assert sent["messages"][1]["tool_calls"][0]["function"]["name"] == "get_weather"


async def test_streamed_tool_calls(rig: V1Rig) -> None:
    async def scenario(client: openai.AsyncOpenAI) -> list[tuple[str, str]]:
        async with client.chat.completions.stream(
            model=MODEL, messages=ASK, tools=[WEATHER]
        ) as stream:
            final = await stream.get_final_completion()
        assert final.choices[0].finish_reason == "tool_calls"
        return [
            (c.function.name, c.function.arguments)
            for c in final.choices[0].message.tool_calls or []
        ]

    alone, through, _, sent = await rig.both(scenario)
    assert alone == through == [("get_weather", '{"city":"Paris","days":1}')]
    assert sent["stream"] is True


async def test_parse_with_a_pydantic_model(rig: V1Rig) -> None:
    async def scenario(client: openai.AsyncOpenAI) -> Forecast | None:
        parsed = await client.chat.completions.parse(
            model=MODEL, messages=ASK, response_format=Forecast
        )
        return parsed.choices[0].message.parsed

    alone, through, sent_alone, sent = await rig.both(scenario)
    assert alone == through == Forecast(city="text", celsius=1.5, sunny=True)
    assert without_model(sent) == without_model(sent_alone)


async def test_choices_stop_and_sampling_fields_reach_the_model(rig: V1Rig) -> None:
    fields: Any = {
        "n": 2,
        "stop": ["END"],
        "seed": 7,
        "top_p": 0.9,
        "temperature": 0.3,
        "presence_penalty": 0.5,
        "frequency_penalty": 0.25,
        "logit_bias": {"50256": -100},
        "logprobs": True,
        "top_logprobs": 2,
        "max_completion_tokens": 64,
        "reasoning_effort": "low",
        "user": "end-user-1",
        "metadata": {"purpose": "test"},
    }
    named: Any = [{"role": "user", "content": "Paris", "name": "alice"}]

    async def scenario(client: openai.AsyncOpenAI) -> tuple[Any, ...]:
        resp = await client.chat.completions.create(model=MODEL, messages=named, **fields)
        assert resp.usage is not None and resp.usage.completion_tokens_details is not None
        first = resp.choices[0].logprobs
        return (
            [c.message.content for c in resp.choices],
            [t.token for t in (first.content or [])] if first else None,
            resp.system_fingerprint,
        )

    alone, through, sent_alone, sent = await rig.both(scenario)
    assert alone == through
    assert alone[0] == ["echo: Paris", "echo: Paris #2"]
    assert without_model(sent) == without_model(sent_alone)
    assert sent["messages"] == named and sent["max_completion_tokens"] == 64


async def test_images_reach_the_model(rig: V1Rig) -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    with_text: Any = [{"role": "user", "content": [{"type": "text", "text": "what is it"}, image]}]
    alone_image: Any = [{"role": "user", "content": [image]}]

    async def scenario(client: openai.AsyncOpenAI) -> list[str | None]:
        answers = []
        for messages in (with_text, alone_image):
            resp = await client.chat.completions.create(model=MODEL, messages=messages)
            answers.append(resp.choices[0].message.content)
        return answers

    alone, through, sent_alone, sent = await rig.both(scenario)
    assert alone == through == ["echo: what is it[image]", "echo: [image]"]
    assert sent["messages"] == alone_image == sent_alone["messages"]


async def test_streamed_text_with_usage(rig: V1Rig) -> None:
    async def scenario(client: openai.AsyncOpenAI) -> tuple[str, str | None, int, int]:
        stream = await client.chat.completions.create(
            model=MODEL, messages=ASK, stream=True, stream_options={"include_usage": True}
        )
        text, finish, usage, chunks = "", None, 0, 0
        async for chunk in stream:
            chunks += 1
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
            if chunk.usage:
                usage = chunk.usage.total_tokens
        return text, finish, usage, chunks

    alone, through, _, _ = await rig.both(scenario)
    assert alone == through
    assert alone[:2] == ("echo: Paris", "stop") and alone[2] > 0


async def test_stream_without_usage_leaves_out_the_usage_chunk(rig: V1Rig) -> None:
    async def scenario(client: openai.AsyncOpenAI) -> list[bool]:
        stream = await client.chat.completions.create(model=MODEL, messages=ASK, stream=True)
        return [bool(chunk.choices) for chunk in [c async for c in stream]]

    alone, through, _, sent = await rig.both(scenario)
    assert alone == through and all(alone)
    # The gateway asked for usage anyway (quotas, metrics) and kept it to itself.
    assert sent["stream_options"] == {"include_usage": True}


async def test_models_by_name_and_by_id(rig: V1Rig) -> None:
    async with rig.gateway() as client:
        names = [m.id async for m in client.models.list()]
        one = await client.models.retrieve("ds")
        with pytest.raises(openai.NotFoundError) as missing:
            await client.models.retrieve("nope")
    assert sorted(names) == ["ds", "fake-model", "oa"]
    assert one.owned_by == "deepseek" and one.created > 1_700_000_000
    assert missing.value.code == "model_not_found"
    async with rig.gateway(TEAM_KEY) as team:
        assert [m.id async for m in team.models.list()] == ["ds"]
        with pytest.raises(openai.NotFoundError):
            await team.chat.completions.create(model=MODEL, messages=ASK)


async def test_an_alias_names_a_provider(rig: V1Rig) -> None:
    async with rig.gateway() as client:
        resp = await client.chat.completions.create(model="gpt-4o-mini", messages=ASK)
    assert resp.choices[0].message.content == "echo: Paris"
    assert rig.upstream()["model"] == "fake-model"


async def test_embeddings(rig: V1Rig) -> None:
    async def scenario(client: openai.AsyncOpenAI) -> list[list[float]]:
        resp = await client.embeddings.create(model=MODEL, input=["a", "b"])
        return [d.embedding for d in resp.data]

    async with rig.direct() as direct:
        alone = await direct.embeddings.create(model="emb-1", input=["a", "b"])
    async with rig.gateway() as gateway:
        through = await scenario(gateway)
    assert through == [d.embedding for d in alone.data]
    assert rig.fake.requests[-1].json["model"] == "emb-1"  # the provider's embedding model
    async with rig.gateway() as gateway:
        with pytest.raises(openai.BadRequestError) as refused:
            await gateway.embeddings.create(model="ds", input="a")  # DeepSeek has none
    assert refused.value.code == "unsupported_parameter"


async def test_sync_client(rig: V1Rig) -> None:
    def scenario(client: openai.OpenAI) -> tuple[str | None, str, str | None]:
        with client:
            plain = client.chat.completions.create(model=MODEL, messages=ASK)
            stream = client.chat.completions.create(model=MODEL, messages=ASK, stream=True)
            streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            tools = client.chat.completions.create(model=MODEL, messages=ASK, tools=[WEATHER])
            call = (tools.choices[0].message.tool_calls or [])[0]
            assert isinstance(call, ChatCompletionMessageFunctionToolCall)
        return plain.choices[0].message.content, streamed, call.function.name

    direct, gateway = rig.sync_clients()
    alone = await asyncio.to_thread(scenario, direct)
    through = await asyncio.to_thread(scenario, gateway)
    assert alone == through == ("echo: Paris", "echo: Paris", "get_weather")


async def test_vendor_quirks_stay_in_the_preset(rig: V1Rig) -> None:
    async with rig.gateway() as client:
        calls_before = len(rig.fake.chat_requests())
        with pytest.raises(openai.BadRequestError) as no_n:
            await client.chat.completions.create(model="ds", messages=ASK, n=2)
        assert len(rig.fake.chat_requests()) == calls_before  # refused before any call
        await client.chat.completions.create(
            model="ds",
            messages=ASK,
            max_completion_tokens=9,
            parallel_tool_calls=False,
            tools=[WEATHER],
            extra_body={"thinking": {"type": "disabled"}},
        )
        ds = rig.upstream()
        await client.chat.completions.parse(model="ds", messages=ASK, response_format=Forecast)
        schema_sent = rig.upstream()
        await client.chat.completions.create(
            model="oa", messages=ASK, extra_body={"enable_thinking": True}
        )
        oa = rig.upstream()
    assert no_n.value.param == "n" and no_n.value.code == "unsupported_parameter"
    assert ds["model"] == "deepseek-chat" and ds["max_tokens"] == 9
    assert "max_completion_tokens" not in ds and "parallel_tool_calls" not in ds
    assert ds["thinking"] == {"type": "disabled"}  # a vendor field DeepSeek knows
    assert schema_sent["response_format"] == {"type": "json_object"}
    assert '"celsius"' in schema_sent["messages"][0]["content"]
    assert "enable_thinking" not in oa  # OpenAI refuses fields it does not define
