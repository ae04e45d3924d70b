"""/graphql refuses in the caller's language, as the REST API does: `Accept-Language` picks
zh-CN or en (no header: `ui.default_language`, zh-CN), while `extensions.code` stays the same
English constant in both, since clients program against it. Over HTTP and over the
graphql-transport-ws socket, whose refused `connection_init` says why in the close reason (at
most 123 bytes of UTF-8, Chinese included)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from tests.fakes.openai_server import Fail, FakeOpenAI
from tests.support.gateway import GatewayFactory, RunningGateway
from tests.support.tokens import access_token, bearer

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.8"}
# One refusal of each kind we raise, by what it asks and the credential it asks with.
OPERATOR_DATA = "{ conversations { edges { cursor } } }"
FORGED_CURSOR = '{ conversations(after: "bm90LWEtY3Vyc29y") { edges { cursor } } }'
PAGE_TOO_LARGE = "{ conversations(first: 101) { edges { cursor } } }"
BAD_SESSION = 'mutation { sendMessage(sessionId: "no spaces", message: "hi") { reply } }'
SUBSCRIBE_BAD_SESSION = 'subscription { answer(sessionId: "no spaces", message: "hi") { type } }'
SEND = 'mutation { sendMessage(sessionId: "s-1", message: "hi") { reply } }'
SUBSCRIBE = 'subscription { answer(sessionId: "s-2", message: "hi") { type message } }'


async def refusal(
    gw: RunningGateway, query: str, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    """The HTTP status and the first of `errors` (the gql client hides the 401's body)."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{gw.url}/graphql", json={"query": query}, headers=headers) as response,
    ):
        body = await response.json()
    [error] = body["errors"]
    return response.status, error


def said(error: dict[str, Any]) -> tuple[str, str]:
    return error["message"], error["extensions"]["code"]


async def test_refusals_over_http_speak_the_callers_language(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory()
    async with aiohttp.ClientSession() as http:
        rest = bearer(await access_token(http, gw, scope="rest"))
    status, error = await refusal(gw, "{ models { name } }", {**ZH, **bearer("not-a-key")})
    assert status == 401
    assert said(error) == (
        "API 密钥或令牌缺失或无效（请在请求头中提供 Authorization: Bearer <key>）",
        "UNAUTHENTICATED",
    )
    status, error = await refusal(gw, "{ models { name } }", EN)
    assert status == 401
    assert said(error) == (
        "missing or invalid API key or token (Authorization: Bearer <key>)",
        "UNAUTHENTICATED",
    )
    # No Accept-Language: the configured default, zh-CN, as REST's refusals.
    assert said((await refusal(gw, "{ models { name } }", {}))[1])[0].startswith("API 密钥")

    expected = {
        (OPERATOR_DATA, "zh"): ("需要范围为 all 的密钥或令牌", "FORBIDDEN"),
        (OPERATOR_DATA, "en"): ("this needs a key or token of scope all", "FORBIDDEN"),
        (FORGED_CURSOR, "zh"): ("分页游标无效", "BAD_USER_INPUT"),
        (FORGED_CURSOR, "en"): ("invalid cursor", "BAD_USER_INPUT"),
        (PAGE_TOO_LARGE, "zh"): ("first 须在 1 到 100 之间", "BAD_USER_INPUT"),
        (PAGE_TOO_LARGE, "en"): ("first must be between 1 and 100", "BAD_USER_INPUT"),
        (BAD_SESSION, "zh"): (
            "sessionId 须为 1 到 128 个字母、数字或 _.:@- 字符",
            "BAD_USER_INPUT",
        ),
        (BAD_SESSION, "en"): ("sessionId: 1-128 letters, digits or _.:@-", "BAD_USER_INPUT"),
    }
    for (query, language), want in expected.items():
        who = rest if query == OPERATOR_DATA else gw.headers
        status, error = await refusal(gw, query, {**who, **(ZH if language == "zh" else EN)})
        assert status == 200 and said(error) == want, (query, language, error)


async def socket_refusal(gw: RunningGateway, headers: dict[str, str]) -> tuple[int | None, str]:
    """The close code and reason of a socket whose `connection_init` carries no credential."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"{gw.url}/graphql", protocols=("graphql-transport-ws",), headers=headers
        ) as ws,
    ):
        await ws.send_str(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
        message = await ws.receive(timeout=20)
    assert message.type == aiohttp.WSMsgType.CLOSE, message
    return message.data, message.extra or ""


async def socket_results(
    gw: RunningGateway, headers: dict[str, str], query: str
) -> list[dict[str, Any]]:
    """The payloads of a subscription on an acknowledged socket, up to its end or first error."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            f"{gw.url}/graphql", protocols=("graphql-transport-ws",), headers=headers
        ) as ws,
    ):
        await ws.send_str('{"type": "connection_init"}')
        assert (await ws.receive_json(timeout=20))["type"] == "connection_ack"
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": query}}
        await ws.send_str(orjson.dumps(subscribe).decode())
        payloads: list[dict[str, Any]] = []
        while True:
            message = await ws.receive_json(timeout=20)
            if message["type"] == "next":
                payloads.append(message["payload"])
                if message["payload"].get("errors"):
                    return payloads
            elif message["type"] == "error":  # refused before it ran
                return [*payloads, {"errors": message["payload"]}]
            elif message["type"] == "complete":
                return payloads


async def socket_errors(gw: RunningGateway, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The errors of a subscription the resolver refuses."""
    results = await socket_results(gw, headers, SUBSCRIBE_BAD_SESSION)
    return list(results[-1]["errors"])


async def test_the_socket_refuses_in_the_callers_language(
    gateway_factory: GatewayFactory,
) -> None:
    gw = await gateway_factory()
    code, reason = await socket_refusal(gw, ZH)
    assert (code, reason) == (4403, "API 密钥或令牌缺失或无效")
    assert len(reason.encode()) <= 123  # the most a close frame carries
    assert await socket_refusal(gw, EN) == (4403, "missing or invalid API key or token")

    [error] = await socket_errors(gw, {**gw.headers, **ZH})
    assert said(error) == ("sessionId 须为 1 到 128 个字母、数字或 _.:@- 字符", "BAD_USER_INPUT")
    [error] = await socket_errors(gw, {**gw.headers, **EN})
    assert said(error) == ("sessionId: 1-128 letters, digits or _.:@-", "BAD_USER_INPUT")


async def test_a_failed_answer_says_so_in_the_callers_language(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    """sendMessage and the answer subscription fail in REST's words for the same failure."""
    gw = await gateway_factory()
    fake_llm.script(Fail(500), Fail(500))  # max_retries 1: two attempts, both fail
    status, error = await refusal(gw, SEND, {**gw.headers, **ZH})
    message, code = said(error)
    assert status == 200 and code == "MODEL_UNAVAILABLE"
    assert message.startswith("模型暂时不可用：") and "HTTP 500" in message
    fake_llm.script(Fail(500), Fail(500))
    events = await socket_results(gw, {**gw.headers, **EN}, SUBSCRIBE)
    last = events[-1]["data"]["answer"]
    assert last["type"] == "error" and last["message"].startswith("The model is unavailable: ")
