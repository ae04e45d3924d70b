"""The identity check (issue 16): whatever ids a caller of the APIs or the page chooses — an
admin's platform id, another key's namespaced name, a look-alike, any printable text — it never
reaches an admin command, and never reads or continues a conversation another key made.

Each example names one id everywhere a caller can (REST `user_id`/`session_id`, /v1 `user` and
`X-Session-Id`, the webhook channel's `user_id`/`session_id`, the page's session id) and sends
the admin command `/stats`; then the first key writes a secret into a conversation of that name
and the second key, using the same name, must not see it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aibot.channels.http_bodies import SESSION_PATTERN
from tests.support.fuzz_rig import ADMINS, SECOND_API_KEY, Rig, fuzz_settings, in_thread
from tests.support.gateway import API_KEY
from tests.support.hostile_inputs import header_text

pytestmark = pytest.mark.asyncio(loop_scope="module")

REFUSED = ("仅限管理员使用", "for admins only")  # zh-CN by default, or English


def refused(text: str) -> bool:
    return any(words in text for words in REFUSED)


PAGE_SESSION = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
LOOK_ALIKES = [
    *ADMINS,
    "telegram:4242 ",
    "TELEGRAM:4242",
    "api:key-2:boss",
    "key-1",
    "web-local",
    "cli-local",
    "12345678",
]
ids = st.one_of(
    st.sampled_from(LOOK_ALIKES),
    st.from_regex(SESSION_PATTERN, fullmatch=True),
    header_text(60).filter(lambda t: t.strip() != ""),
)


def stand_in(claimed: str) -> str:
    return "s" + hashlib.sha256(claimed.encode()).hexdigest()[:20]


def session_name(claimed: str) -> str:
    """`claimed` where the REST and webhook session pattern takes it, else a valid stand-in."""
    return claimed if re.fullmatch(SESSION_PATTERN, claimed) else stand_in(claimed)


def v1_session(claimed: str) -> str:
    """`claimed` where it survives as an `X-Session-Id` header unchanged, else a stand-in."""
    return claimed if re.fullmatch(r"[!-~]+(?: [!-~]+)*", claimed) else stand_in(claimed)


def page_session(claimed: str) -> str:
    return claimed if PAGE_SESSION.match(claimed) else stand_in(claimed)


def user_texts(rig: Rig) -> list[str]:
    """The user messages of the model's latest request (what a conversation remembered)."""
    return [str(m["content"]) for m in rig.llm.requests[-1].json["messages"] if m["role"] == "user"]


def rest(rig: Rig, key: str, session: str, user: str, text: str) -> str:
    body = {"session_id": session, "user_id": user, "message": text}
    reply = rig.send("POST", "/api/v1/chat", body=orjson.dumps(body), headers=rig.bearer(key))
    assert reply.status == 200, reply
    return str(orjson.loads(reply.body)["reply"])


def v1(rig: Rig, key: str, session: str, user: str, text: str) -> str:
    body = {"model": "fake", "user": user, "messages": [{"role": "user", "content": text}]}
    headers = {**rig.bearer(key), "X-Session-Id": session}
    reply = rig.send("POST", "/v1/chat/completions", body=orjson.dumps(body), headers=headers)
    assert reply.status == 200, reply
    return str(orjson.loads(reply.body)["choices"][0]["message"]["content"])


def webhook(rig: Rig, session: str, user: str, text: str) -> str:
    message_id = f"id-{rig.next_id()}"
    body = {"message_id": message_id, "session_id": session, "user_id": user, "message": text}
    reply = rig.send("POST", "/api/v1/messages", body=orjson.dumps(body), headers=rig.bearer())
    assert reply.status == 202, reply

    async def answered() -> str:
        for _ in range(200):
            for callback in rig.receiver.received:
                if callback["in_reply_to"] == message_id:
                    return str(callback["text"])
            await asyncio.sleep(0.05)
        raise AssertionError(f"no callback for {message_id}")

    return asyncio.run_coroutine_threadsafe(answered(), rig.loop).result(15)


async def page(rig: Rig, key: str, session: str, text: str) -> tuple[list[Any], str]:
    """The history the page is shown for `session` under `key`, and the answer to `text`."""
    async with rig.http.ws_connect(f"{rig.gw.url.replace('http', 'ws')}/ws") as ws:
        await ws.send_json({"type": "hello", "session_id": session, "key": key})
        ready = await ws.receive_json(timeout=10)
        await ws.send_json({"type": "message", "id": "m", "text": text})
        while (frame := await ws.receive_json(timeout=10))["type"] not in ("done", "error"):
            pass
    return ready["history"], str(frame.get("text") or frame.get("message"))


def on_page(rig: Rig, key: str, session: str, text: str) -> tuple[list[Any], str]:
    return asyncio.run_coroutine_threadsafe(page(rig, key, session, text), rig.loop).result(25)


async def test_no_chosen_id_reaches_an_admin_command(rig: Rig) -> None:
    rig.mark()

    @fuzz_settings(40)
    @given(claimed=ids)
    @example(claimed="telegram:4242")
    @example(claimed="4242")
    @example(claimed="api:key-1:boss")
    def prop(claimed: str) -> None:
        session = session_name(claimed)
        answers = [
            rest(rig, API_KEY, session, claimed, "/stats"),
            v1(rig, API_KEY, v1_session(claimed), claimed, "/stats"),
            webhook(rig, session, claimed, "/stats"),
            on_page(rig, API_KEY, page_session(claimed), "/stats")[1],
        ]
        assert all(refused(answer) for answer in answers), (claimed, answers)

    await in_thread(prop)
    assert rig.server_errors() == [] and rig.tracebacks() == []


async def test_no_chosen_id_reaches_another_keys_conversation(rig: Rig) -> None:
    rig.mark()

    @fuzz_settings(30)
    @given(claimed=ids)
    @example(claimed="telegram:4242")
    @example(claimed="key-2:shared")
    def prop(claimed: str) -> None:
        secret = f"secret-{rig.next_id()}"
        session = session_name(claimed)
        rest(rig, API_KEY, session, claimed, secret)
        rest(rig, SECOND_API_KEY, session, claimed, "what did I say?")
        assert secret not in user_texts(rig)
        v1(rig, API_KEY, v1_session(claimed), claimed, secret)
        v1(rig, SECOND_API_KEY, v1_session(claimed), claimed, "and here?")
        assert secret not in user_texts(rig)
        named = page_session(claimed)
        on_page(rig, API_KEY, named, secret)
        history, _ = on_page(rig, SECOND_API_KEY, named, "mine?")
        assert not any("secret-" in turn["content"] for turn in history), history
        assert secret not in user_texts(rig)

    await in_thread(prop)
    assert rig.server_errors() == [] and rig.tracebacks() == []
