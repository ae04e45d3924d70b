"""The `/feishu/webhook` route in-process: what is committed, and that no input makes a 500."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aibot.channels.feishu.channel import FeishuChannel
from aibot.channels.feishu.inbound import EventReader
from aibot.channels.feishu.verify import encrypt, signature
from aibot.config import FeishuChannelConfig
from aibot.core.messages import Inbound
from tests.support.channel_context import bare_context

KEY, TOKEN = "encrypt-key", "vtoken"


class _Inbox:
    def __init__(self) -> None:
        self.accepted: list[Inbound] = []

    async def accept(self, inbound: Inbound) -> bool:
        self.accepted.append(inbound)
        return True


def route() -> tuple[TestClient, _Inbox]:
    inbox = _Inbox()
    config = FeishuChannelConfig(
        app_id="cli_x",
        app_secret="s",
        verification_token=TOKEN,
        encrypt_key=KEY,
        api_base="http://127.0.0.1:9",
    )
    channel = FeishuChannel(config, bare_context(inbox))
    channel._reader = EventReader(config, "ou_bot")  # what start() learns from bot info
    app = FastAPI()
    router = channel.router()
    assert router is not None
    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False), inbox


def signed(payload: Any, *, stamp: str | None = None) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({"encrypt": encrypt(KEY, orjson.dumps(payload))})
    stamp = stamp or str(int(time.time()))
    return body, {
        "X-Lark-Request-Timestamp": stamp,
        "X-Lark-Request-Nonce": "n",
        "X-Lark-Signature": signature(stamp, "n", KEY, body),
    }


def event(message: dict[str, Any], token: str = TOKEN) -> dict[str, Any]:
    return {
        "schema": "2.0",
        "header": {"event_id": "e1", "event_type": "im.message.receive_v1", "token": token},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_u"}, "sender_type": "user"},
            "message": message,
        },
    }


CLIENT, INBOX = route()


def test_signed_event_is_committed_and_bad_ones_refused() -> None:
    INBOX.accepted.clear()
    good = event(
        {
            "message_id": "om_1",
            "chat_id": "oc_1",
            "chat_type": "p2p",
            "message_type": "text",
            "content": '{"text":"hi"}',
        }
    )
    body, headers = signed(good)
    assert CLIENT.post("/feishu/webhook", content=body, headers=headers).status_code == 200
    assert [(i.message_id, i.text) for i in INBOX.accepted] == [("om_1", "hi")]
    refused = [
        (body, {**headers, "X-Lark-Signature": "f" * 64}, 401),
        (*signed(good, stamp=str(int(time.time()) - 3600)), 401),
        (*signed(event({}, token="wrong")), 401),
        (b'{"encrypt": 5}', {}, 400),
        (b'{"encrypt": "%%%"}', {}, 400),
        (b"\xff\xfe", {}, 400),
    ]
    for raw, hdrs, status in refused:
        assert CLIENT.post("/feishu/webhook", content=raw, headers=hdrs).status_code == status
    assert len(INBOX.accepted) == 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
_header_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)
_content = (
    st.text(max_size=40)
    | _json.map(lambda v: orjson.dumps(v).decode())
    | st.fixed_dictionaries(
        {}, optional={"title": _json, "content": _json, "text": _json, "zh_cn": _json}
    ).map(lambda v: orjson.dumps(v).decode())
)
_mentions = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.just("@_user_1") | _json,
            "name": _json,
            "id": st.fixed_dictionaries({"open_id": st.just("ou_bot") | _json}) | _json,
        }
    ),
    max_size=2,
)
_message = st.fixed_dictionaries(
    {
        "message_id": st.just("om_1") | _json,
        "chat_id": st.just("oc_1") | _json,
        "chat_type": st.sampled_from(["p2p", "group", 3]),
        "message_type": st.sampled_from(["text", "post", "image", 1]),
        "content": _content | _json,
        "mentions": _mentions | st.integers(0, 9) | _json,
    },
    optional={"thread_id": _json},
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.binary(max_size=200) | _json.map(orjson.dumps), timestamp=_header_text, sig=_header_text
)
def test_no_raw_input_makes_a_500(body: bytes, timestamp: str, sig: str) -> None:
    headers = {"X-Lark-Request-Timestamp": timestamp, "X-Lark-Signature": sig}
    status = CLIENT.post("/feishu/webhook", content=body, headers=headers).status_code
    assert status in (400, 401)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=_message.map(event) | _message.map(event) | _json)
def test_no_correctly_signed_payload_makes_a_500(payload: Any) -> None:
    body, headers = signed(payload)
    status = CLIENT.post("/feishu/webhook", content=body, headers=headers).status_code
    assert status in (200, 400, 401)
