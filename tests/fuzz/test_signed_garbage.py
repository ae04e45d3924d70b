"""Correct credentials, hostile content: what a leaked secret, a compromised proxy or a platform
bug could deliver. Each platform's real message, mutated at random (fields dropped, replaced by
any JSON, new fields added), and arbitrary documents, are sent signed and encrypted exactly as
the platform would. Whatever the content, the gateway answers below 500, logs no traceback and
keeps serving; accepting what parses as a message is allowed here.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support.fuzz_rig import Reply, Rig, fuzz_settings, in_thread
from tests.support.hostile_inputs import dumps, json_objects, json_values, keys, xml_documents
from tests.support.platforms import FEISHU_TOKEN
from tests.support.waiting import wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")


@st.composite
def mutated(draw: st.DrawFn, value: Any, top: bool = True) -> Any:
    """`value` with random parts dropped, replaced or added, at any depth; a string holding
    JSON (Feishu's `content`) is mutated inside too. The top level is always changed."""
    action = (
        "recurse"
        if top
        else draw(st.sampled_from(["keep", "keep", "keep", "recurse", "recurse", "replace"]))
    )
    if action == "replace":
        return draw(json_values)
    if action == "keep":
        return value
    if isinstance(value, dict):
        out = {
            k: draw(mutated(v, False)) for k, v in value.items() if draw(st.integers(0, 9)) > 0
        }  # each field dropped one time in ten
        for extra in draw(st.lists(keys, max_size=2)):
            out[extra] = draw(json_values)
        return out
    if isinstance(value, list):
        return [draw(mutated(item, False)) for item in value] + draw(
            st.lists(json_values, max_size=2)
        )
    if isinstance(value, str) and value.startswith("{"):
        return dumps(draw(mutated(orjson.loads(value), False))).decode()
    return value


def no_server_error(reply: Reply, what: object) -> None:
    assert reply.status < 500, (what, reply)


def fresh(payload: Any, rig: Rig, field: str, value: Any = None) -> Any:
    """`payload` with a new id in `field` (when it has one) so that a well-formed mutant is a
    new message, processed all the way, not a duplicate dropped by the inbox."""
    if isinstance(payload, dict) and field in payload:
        payload[field] = value if value is not None else f"fuzz{rig.next_id()}"
    return payload


async def test_telegram_updates(rig: Rig) -> None:
    @fuzz_settings(max_examples=300)
    @given(
        update=mutated(orjson.loads(rig.telegram_update()))
        | json_objects.map(lambda o: {**o, "update_id": 7})
    )
    @example(
        update={
            "update_id": 1,
            "message": {"chat": {"type": "private"}, "from": {}, "message_id": 1},
        }
    )  # was a 500 (KeyError)
    @example(
        update={
            "update_id": 2,
            "message": {
                "chat": {"id": 1, "type": "private"},
                "from": {"id": 1},
                "text": ["x"],
                "message_id": 2,
            },
        }
    )
    @example(
        update={
            "update_id": 3,
            "message": {
                "chat": {"id": {}, "type": "private"},
                "from": {"id": 1},
                "text": "hi",
                "message_id": 3,
            },
        }
    )  # crashed its sender
    def prop(update: Any) -> None:
        fresh(update, rig, "update_id", 600_000_000 + rig.next_id())
        reply = rig.send(
            "POST", "/telegram/webhook", body=dumps(update), headers=rig.telegram_headers()
        )
        no_server_error(reply, update)

    rig.mark()
    await in_thread(prop)
    await assert_survived(rig)


async def test_feishu_events(rig: Rig) -> None:
    @fuzz_settings(max_examples=300)
    @given(payload=mutated(rig.feishu_event()) | json_objects)
    def prop(payload: Any) -> None:
        if isinstance(payload, dict) and isinstance(payload.get("header"), dict):
            payload["header"]["token"] = FEISHU_TOKEN  # past the token check, into the reader
            event = payload.get("event")
            fresh(event.get("message") if isinstance(event, dict) else None, rig, "message_id")
        body, headers = rig.feishu_request(dumps(payload))
        no_server_error(rig.send("POST", "/feishu/webhook", body=body, headers=headers), payload)

    rig.mark()
    await in_thread(prop)
    await assert_survived(rig)


async def test_feishu_url_challenges(rig: Rig) -> None:
    @fuzz_settings(max_examples=40)
    @given(challenge=json_values, extra=json_objects)
    def prop(challenge: Any, extra: dict[str, Any]) -> None:
        payload = {
            **extra,
            "type": "url_verification",
            "token": FEISHU_TOKEN,
            "challenge": challenge,
        }
        body, headers = rig.feishu_request(dumps(payload))
        reply = rig.send("POST", "/feishu/webhook", body=body, headers=headers)
        no_server_error(reply, payload)
        if reply.status == 200:
            assert orjson.loads(reply.body) == {"challenge": challenge}

    rig.mark()
    await in_thread(prop)
    await assert_survived(rig)


async def test_wecom_messages(rig: Rig) -> None:
    @fuzz_settings(max_examples=120)
    @given(
        message=st.one_of(
            xml_documents().map(lambda raw: raw.decode()),
            st.builds(
                lambda n, text: rig.wecom_message(text).replace(
                    "<MsgType><![CDATA[text]]>", f"<MsgType><![CDATA[{n}]]>"
                ),
                st.sampled_from(["text", "event", "image", "", "x" * 300]),
                st.text(max_size=100).map(lambda t: t.replace("]]>", "")),
            ),
            st.text(max_size=200),
        )
    )
    def prop(message: str) -> None:
        query, body = rig.wecom_request(message)
        no_server_error(rig.send("POST", "/wecom/webhook", body=body, query=query), message)

    rig.mark()
    await in_thread(prop)
    await assert_survived(rig)


async def test_dingtalk_messages(rig: Rig) -> None:
    @fuzz_settings(max_examples=300)
    @given(payload=mutated(orjson.loads(rig.dingtalk_message())) | json_values)
    @example(
        payload={
            "conversationId": "c1",
            "conversationType": "1",
            "msgId": "m1",
            "msgtype": "text",
            "text": True,
        }
    )  # was a 503 and a traceback
    @example(
        payload={
            "conversationId": "c1",
            "conversationType": "1",
            "msgId": "m2",
            "msgtype": "text",
            "text": {"content": "hi"},
            "sessionWebhookExpiredTime": "\u00b2",
        }
    )  # int("²") raised
    def prop(payload: Any) -> None:
        fresh(payload, rig, "msgId")
        reply = rig.send(
            "POST", "/dingtalk/webhook", body=dumps(payload), headers=rig.dingtalk_headers()
        )
        no_server_error(reply, payload)

    rig.mark()
    await in_thread(prop)
    await assert_survived(rig)


API_BODIES = {
    "/api/v1/messages": {
        "message_id": "m1",
        "session_id": "s1",
        "message": "hello",
        "user_id": "u1",
        "metadata": {"ticket": 7},
    },
    "/api/v1/chat": {"session_id": "s1", "message": "hello", "user_id": "u1"},
    "/v1/chat/completions": {
        "model": "fake",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "hello"}]},
        ],
        "user": "u1",
        "max_tokens": 20,
        "temperature": 0.5,
    },
}


async def test_api_bodies(rig: Rig) -> None:
    """Streaming is drawn too: `stream` is one of the fields a mutation may flip."""

    @fuzz_settings(max_examples=300)
    @given(
        path_body=st.sampled_from(sorted(API_BODIES.items())).flatmap(
            lambda item: st.tuples(st.just(item[0]), mutated(item[1]) | json_values)
        )
    )
    def prop(path_body: tuple[str, Any]) -> None:
        path, body = path_body
        fresh(body, rig, "message_id")
        reply = rig.send("POST", path, body=dumps(body), headers=rig.bearer())
        no_server_error(reply, body)

    rig.mark()
    await in_thread(prop)
    await assert_survived(rig)


async def assert_survived(rig: Rig) -> None:
    """No 5xx, and no traceback, also from answering what was accepted (so the inbox is
    drained first: a message of an absurd shape used to crash its sender later)."""
    assert await wait_until(lambda: rig.pending() == 0, timeout=20)
    assert rig.server_errors() == []
    assert rig.tracebacks() == []
    assert await rig.healthy()
