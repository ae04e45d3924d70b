"""The tool loop through a running gateway: the fake model calls tools, the gateway runs what
the chat's route allows, and the answer uses the results; turns, audit and metrics record it."""

from __future__ import annotations

import aiohttp
import orjson

from tests.fakes.openai_server import CallTools, FakeOpenAI, Reply
from tests.support.gateway import GatewayFactory
from tests.support.tool_calls import (
    answer_from_tools,
    stored_turns,
    stream_chat,
    tool_audit,
    tool_names,
)

TOOLS: dict[str, object] = {
    "tools": {"enabled": ["calculator", "current_time"], "time_zone": "Asia/Shanghai"},
    "routes": [
        {"name": "calc", "match": {"prefix": "calc"}, "tools": ["calculator"]},
        {"name": "both", "match": {"prefix": "both"}, "tools": ["calculator", "current_time"]},
        {"name": "plain", "match": {"prefix": "plain"}},
    ],
}


async def metrics(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        return await response.text()


async def test_answer_uses_the_tool_result_and_is_remembered(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(TOOLS)
    fake_llm.script(CallTools((("calculator", '{"expression": "6*7"}'),)))
    status, body = await gw.chat("calc six times seven", session="t1")
    assert status == 200 and body["reply"] == "tools said: 42", body
    first, second = fake_llm.chat_requests()
    assert tool_names(first) == ["calculator"]  # only what the route allows
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]
    assert second["messages"][1]["tool_calls"][0]["function"]["name"] == "calculator"
    turns = stored_turns(gw, "t1")
    assert [t[0] for t in turns] == ["user", "assistant", "tool", "assistant"]
    assert orjson.loads(turns[2][2] or "{}")["name"] == "calculator"
    # The next message's context carries the calls and results, as memory.
    await gw.chat("calc again", session="t1")
    again = fake_llm.chat_requests()[2]["messages"]
    assert [m["role"] for m in again] == ["user", "assistant", "tool", "assistant", "user"]
    audit = tool_audit(gw)
    assert len(audit) == 2 and audit[0][0].startswith("api:")  # the channel and the caller
    assert "calculator" in audit[0][1] and "6*7" in audit[0][1] and audit[0][1].endswith(" ok")
    text = await metrics(gw.url)
    assert 'aibot_tool_calls_total{outcome="ok",tool="calculator"} 1.0' in text


async def test_parallel_calls_and_a_tool_not_allowed(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(TOOLS)
    fake_llm.script(CallTools((("calculator", '{"expression": "2**10"}'), ("current_time", "{}"))))
    _, body = await gw.chat("calc and time", session="t2")
    # current_time is enabled but not on this route: never offered, never run.
    assert body["reply"].startswith("tools said: 1024 | error: no tool named 'current_time'")
    fake_llm.script(CallTools((("calculator", '{"expression": "1+1"}'), ("current_time", "{}"))))
    _, body = await gw.chat("both please", session="t3")
    assert body["reply"].startswith("tools said: 2 | 20"), body  # 2026-…, Asia/Shanghai
    assert "Asia/Shanghai" in body["reply"]
    outcomes = [target.rsplit(" ", 1)[1] for _, target in tool_audit(gw)]
    assert sorted(outcomes) == ["ok", "ok", "ok", "unavailable"]


async def test_no_route_tools_no_tools_and_rounds_are_bounded(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory({**TOOLS, "tools": {"enabled": ["calculator"], "max_rounds": 3}})
    _, body = await gw.chat("plain question", session="t4")
    assert "tools" not in fake_llm.chat_requests()[0] and body["reply"] == "echo: plain question"
    fake_llm.reset()
    fake_llm.fault = CallTools((("calculator", '{"expression": "1"}'),))  # never stops asking
    _, body = await gw.chat("calc forever", session="t5")
    fake_llm.fault = None
    requests = fake_llm.chat_requests()
    assert len(requests) == 3 and "tools" not in requests[-1]  # the last call must answer


async def test_streamed_tool_calls_and_status(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(TOOLS)
    fake_llm.script(CallTools((("calculator", '{"expression": "(1+2)*3/4"}'),)))
    reply, deltas = await stream_chat(gw, "calc it", "t6")
    assert reply == "tools said: 2.25" and "".join(deltas) == reply
    assert fake_llm.chat_requests()[0]["stream"] is True


async def test_conversation_search_sees_only_its_own_chat(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    fake_llm.reply = answer_from_tools
    gw = await gateway_factory(
        {
            "tools": {"enabled": ["conversation_search"], "time_zone": "UTC"},
            "routes": [{"name": "all", "tools": ["conversation_search"]}],
        }
    )
    search = CallTools((("conversation_search", '{"query": "door code"}'),))
    fake_llm.script(Reply("noted"))
    await gw.chat("the door code is 4711", session="mine")
    fake_llm.script(search)
    _, body = await gw.chat("what was it?", session="mine")
    assert "user: the door code is 4711" in body["reply"], body
    fake_llm.script(search)
    _, body = await gw.chat("what was it?", session="other")
    assert body["reply"] == "tools said: no earlier message matches"
