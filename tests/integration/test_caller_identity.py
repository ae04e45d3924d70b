"""Issue 16, items 4, 7 and 8, against a real gateway: an id a caller of the page or an API
chooses never makes it an admin, never reaches another key's conversation, and never makes it a
fresh user for the rate limits.

Every attack is the one the red-team pass ran: REST `user_id`, /v1 `user`, the webhook
channel's `user_id` and the open loopback page's session id, each set to an admin listed in
`policy.access.admins`, sending `/model second`; a second key continuing the first key's
session; a fresh session per message (REST, /v1, a `{"type": "new"}` frame on the page).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.fakes.callback_receiver import CallbackReceiver
from tests.fakes.openai_server import FakeOpenAI
from tests.support.gateway import API_KEY, GatewayFactory, RunningGateway
from tests.support.webhook_client import webhook_config

SECOND_KEY = "second-key-abcdef"
ADMINS = ["telegram:4242", "12345678"]
REFUSED = ("仅限管理员使用", "for admins only")  # zh-CN by default, or English


def refused(text: str) -> bool:
    return any(words in text for words in REFUSED)


def identity_config(fake_llm: FakeOpenAI, **extra: Any) -> dict[str, Any]:
    return {
        "channels": {"api": {"keys": [API_KEY, SECOND_KEY], **extra}},
        "models": {
            "providers": {
                "second": {"base_url": fake_llm.base_url, "api_key": "sk-x", "model": "second-m"}
            }
        },
        "policy": {"access": {"admins": ADMINS}},
    }


async def rest(
    gw: RunningGateway, body: dict[str, Any], key: str = API_KEY
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{gw.url}/api/v1/chat", headers={"Authorization": f"Bearer {key}"}, json=body
        ) as response,
    ):
        return response.status, await response.json()


async def v1(
    gw: RunningGateway, text: str, *, user: str | None = None, session: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    if session is not None:
        headers["X-Session-Id"] = session
    body: dict[str, Any] = {"model": "fake", "messages": [{"role": "user", "content": text}]}
    if user is not None:
        body["user"] = user
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{gw.url}/v1/chat/completions", headers=headers, json=body) as response,
    ):
        return response.status, await response.json()


async def page_turns(
    gw: RunningGateway, session: str | None, texts: list[str], *, fresh_each: bool = False
) -> list[dict[str, Any]]:
    """The last frame of each message on the open page; `fresh_each` sends `new` before each."""
    finals = []
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{gw.url.replace('http', 'ws')}/ws")
        await ws.send_json({"type": "hello", "session_id": session})
        assert (await ws.receive_json(timeout=10))["type"] == "ready"
        for index, text in enumerate(texts):
            if fresh_each:
                await ws.send_json({"type": "new"})
                assert (await ws.receive_json(timeout=10))["type"] == "ready"
            await ws.send_json({"type": "message", "id": f"m{index}", "text": text})
            while (frame := await ws.receive_json(timeout=10))["type"] not in ("done", "error"):
                pass
            finals.append(frame)
        await ws.close()
    return finals


async def test_no_claimed_id_is_an_admin(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    async with CallbackReceiver() as receiver:
        config = identity_config(fake_llm)
        config["channels"].update(webhook_config(receiver)["channels"])
        gw = await gateway_factory(config)
        for claimed in ADMINS:
            _, body = await rest(
                gw, {"session_id": f"r-{claimed}", "user_id": claimed, "message": "/model second"}
            )
            assert refused(body["reply"]), body
            _, answer = await v1(gw, "/model second", user=claimed, session=f"v-{claimed}")
            assert refused(answer["choices"][0]["message"]["content"]), answer
        _, body = await rest(gw, {"session_id": "12345678", "message": "/model second"})
        assert refused(body["reply"])  # the session id is not the user either

        async with aiohttp.ClientSession() as http:
            for index, claimed in enumerate(ADMINS):
                async with http.post(
                    f"{gw.url}/api/v1/messages",
                    headers=gw.headers,
                    json={
                        "message_id": f"w{index}",
                        "session_id": claimed,
                        "user_id": claimed,
                        "message": "/model second",
                    },
                ) as response:
                    assert response.status == 202
        callbacks = await receiver.wait_for(2)
        assert all(refused(c["text"]) for c in callbacks), callbacks
        assert {c["user_id"] for c in callbacks} == set(ADMINS)  # the caller's ids echo back

        # The open loopback page may pick its session id; a bare admin id makes no admin.
        (final,) = await page_turns(gw, "12345678", ["/model second"])
        assert refused(final["text"])

        # Nothing above switched a model: the next answers come from the default.
        _, body = await rest(gw, {"session_id": "r-telegram:4242", "message": "plain"})
        assert body["provider"] == "fake"


async def test_admin_rights_come_from_the_key(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(identity_config(fake_llm, admin_keys=["key-2"]))
    _, body = await rest(gw, {"session_id": "ops", "message": "/model second"}, key=SECOND_KEY)
    assert not refused(body["reply"]) and "second" in body["reply"]
    _, body = await rest(gw, {"session_id": "ops", "message": "hi"}, key=SECOND_KEY)
    assert body["provider"] == "second"
    _, body = await rest(gw, {"session_id": "ops", "message": "/stats"})  # key-1: no admin
    assert refused(body["reply"])


async def test_a_second_key_cannot_read_the_first_keys_session(
    gateway_factory: GatewayFactory, fake_llm: FakeOpenAI
) -> None:
    gw = await gateway_factory(identity_config(fake_llm))
    await rest(gw, {"session_id": "shared-name", "message": "my secret is 1234"})
    await rest(gw, {"session_id": "shared-name", "message": "what is my secret?"}, SECOND_KEY)
    seen = [m["content"] for m in fake_llm.requests[-1].json["messages"]]
    assert seen == ["what is my secret?"]

    await v1(gw, "v1 secret 5678", session="v1-shared")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{gw.url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {SECOND_KEY}", "X-Session-Id": "v1-shared"},
            json={"model": "fake", "messages": [{"role": "user", "content": "and mine?"}]},
        ) as response,
    ):
        assert response.status == 200
    seen = [m["content"] for m in fake_llm.requests[-1].json["messages"]]
    assert seen == ["and mine?"]


@pytest.mark.parametrize("surface", ["rest", "v1", "page"])
async def test_a_fresh_session_per_message_does_not_escape_the_user_limit(
    gateway_factory: GatewayFactory, surface: str
) -> None:
    gw = await gateway_factory({"policy": {"rate_limit": {"per_user": "3/minute"}}})
    texts = [f"m{i}" for i in range(6)]
    if surface == "page":
        finals = await page_turns(gw, None, texts, fresh_each=True)
        answered = sum(f.get("text", "").startswith("echo:") for f in finals)
    elif surface == "rest":
        replies = [
            (await rest(gw, {"session_id": f"s{i}", "message": t}))[1] for i, t in enumerate(texts)
        ]
        answered = sum(r.get("reply", "").startswith("echo:") for r in replies)
    else:
        statuses = [(await v1(gw, t, session=f"s{i}"))[0] for i, t in enumerate(texts)]
        answered = statuses.count(200)
    assert answered == 3
