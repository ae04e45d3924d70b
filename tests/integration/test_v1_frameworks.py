"""Agent frameworks against /v1, each as an independent oracle: `langchain-openai` (tools in an
agent loop, streamed tool calls, `with_structured_output`) and `litellm` (tools, streaming, its
exception mapping). Every scenario runs against the OpenAI fake directly first, then through
the gateway, and must end the same way.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
import pytest_asyncio
from pydantic import BaseModel

from tests.fakes.openai_server import Fail
from tests.support.gateway import API_KEY, PROVIDER_KEY
from tests.support.v1_rig import V1Rig, v1_rig

# litellm fetches a model price list from the internet at import unless told to use its own.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from litellm.exceptions import NotFoundError, RateLimitError

pytestmark = pytest.mark.asyncio(loop_scope="module")
T = TypeVar("T")
MODEL = "fake-model"


class Forecast(BaseModel):
    city: str
    celsius: float
    sunny: bool


@tool
def get_weather(city: str, days: int) -> str:
    """The weather in a city for the next days."""
    return f"sunny in {city} for {days} days"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[V1Rig]:
    async with v1_rig(tmp_path_factory.mktemp("v1-frameworks")) as running:
        yield running


def endpoints(rig: V1Rig) -> list[tuple[str, str]]:
    """(base URL, key): the fake alone, then the gateway."""
    return [(rig.fake.base_url, PROVIDER_KEY), (f"{rig.gw.url}/v1", API_KEY)]


async def on_both(rig: V1Rig, scenario: Callable[[str, str], Awaitable[T]]) -> list[T]:
    return [await scenario(url, key) for url, key in endpoints(rig)]


def chat(url: str, key: str) -> ChatOpenAI:
    return ChatOpenAI(base_url=url, api_key=key, model=MODEL, max_retries=0)


async def test_langchain_agent_loop_runs_the_tool(rig: V1Rig) -> None:
    async def scenario(url: str, key: str) -> tuple[Any, ...]:
        llm = chat(url, key).bind_tools([get_weather])
        history: list[BaseMessage] = [HumanMessage("Paris")]
        first = await llm.ainvoke(history)
        assert isinstance(first, AIMessage)
        [call] = first.tool_calls
        result = get_weather.invoke(call["args"])
        history += [first, ToolMessage(result, tool_call_id=call["id"])]
        final = await llm.ainvoke(history)
        return call["name"], call["args"], final.content

    alone, through = await on_both(rig, scenario)
    assert alone == through == ("get_weather", {"city": "Paris", "days": 1}, "echo: Paris")
    assert rig.upstream()["messages"][-1]["content"] == "sunny in Paris for 1 days"


async def test_langchain_streamed_tool_calls(rig: V1Rig) -> None:
    async def scenario(url: str, key: str) -> list[tuple[str, Any]]:
        llm = chat(url, key).bind_tools([get_weather])
        whole: Any = None
        async for piece in llm.astream("Paris"):
            whole = piece if whole is None else whole + piece
        return [(c["name"], c["args"]) for c in whole.tool_calls]

    alone, through = await on_both(rig, scenario)
    assert alone == through == [("get_weather", {"city": "Paris", "days": 1})]


async def test_langchain_structured_output(rig: V1Rig) -> None:
    async def scenario(url: str, key: str) -> Any:
        return await chat(url, key).with_structured_output(Forecast).ainvoke("Paris")

    alone, through = await on_both(rig, scenario)
    assert alone == through == Forecast(city="text", celsius=1.5, sunny=True)


async def test_litellm_tools_and_streaming(rig: V1Rig) -> None:
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }

    async def scenario(url: str, key: str) -> tuple[Any, ...]:
        common: dict[str, Any] = {"model": f"openai/{MODEL}", "api_base": url, "api_key": key}
        ask = [{"role": "user", "content": "Paris"}]
        called = await litellm.acompletion(messages=ask, tools=[weather], **common)
        call = called.choices[0].message.tool_calls[0]
        stream = await litellm.acompletion(messages=ask, stream=True, **common)
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        return call.function.name, call.function.arguments, text

    alone, through = await on_both(rig, scenario)
    assert alone == through == ("get_weather", '{"city":"Paris"}', "echo: Paris")


async def test_litellm_maps_errors_the_same(rig: V1Rig) -> None:
    async def scenario(url: str, key: str) -> tuple[str, ...]:
        common: dict[str, Any] = {"api_base": url, "api_key": key, "num_retries": 0}
        ask = [{"role": "user", "content": "x"}]
        rig.fake.script(Fail(429, retry_after=0.05), Fail(429, retry_after=0.05))
        with pytest.raises(RateLimitError) as limited:
            await litellm.acompletion(model=f"openai/{MODEL}", messages=ask, **common)
        rig.fake.reset()
        with pytest.raises(NotFoundError) as missing:
            await litellm.acompletion(model="openai/no-such-model", messages=ask, **common)
        return type(limited.value).__name__, type(missing.value).__name__

    alone, through = await on_both(rig, scenario)
    assert alone == through == ("RateLimitError", "NotFoundError")
