"""/v1 and the gateway's tools, with the official openai SDK as the client: a key allowed
tools gets them in conversations it keeps with X-Session-Id (the answer uses the result, the
calls are remembered); without a session, or with the caller's own tools, /v1 is the faithful
pass-through it always was."""

from __future__ import annotations

import openai
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.fakes.openai_server import CallTools, FakeOpenAI
from tests.support.gateway import API_KEY, GatewayFactory
from tests.support.tool_calls import answer_from_tools, tool_names

CONFIG = {
    "tools": {"enabled": ["calculator"]},
    "channels": {"api": {"key_tools": {"key-1": ["calculator"]}}},
}


async def test_v1_uses_gateway_tools_only_in_a_session_of_an_allowed_key(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(CONFIG)
    client = openai.AsyncOpenAI(base_url=f"{gw.url}/v1", api_key=API_KEY, max_retries=0)
    session = {"X-Session-Id": "calc-1"}
    ask: list[ChatCompletionMessageParam] = [{"role": "user", "content": "what is 6*7?"}]

    fake_llm.script(CallTools((("calculator", '{"expression": "6*7"}'),)))
    answer = await client.chat.completions.create(
        model="fake",
        messages=ask,
        extra_headers=session,
    )
    assert answer.choices[0].message.content == "tools said: 42"
    assert tool_names(fake_llm.chat_requests()[0]) == ["calculator"]

    fake_llm.script(CallTools((("calculator", '{"expression": "1+1"}'),)))
    stream = await client.chat.completions.create(
        model="fake",
        messages=ask,
        extra_headers=session,
        stream=True,
    )
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "tools said: 2"
    remembered = fake_llm.chat_requests()[2]["messages"]
    assert [m["role"] for m in remembered][:4] == ["user", "assistant", "tool", "assistant"]

    fake_llm.reset()
    plain = await client.chat.completions.create(model="fake", messages=ask)
    assert plain.choices[0].message.content == "echo: what is 6*7?"
    assert "tools" not in fake_llm.chat_requests()[0]  # no session: a pass-through

    own: list[ChatCompletionToolParam] = [
        {"type": "function", "function": {"name": "mine", "parameters": {"type": "object"}}}
    ]
    passed = await client.chat.completions.create(
        model="fake",
        messages=ask,
        tools=own,
        extra_headers=session,
    )
    calls = passed.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls if c.type == "function"] == [
        "mine"
    ]  # the caller's own tools, its own calls
