"""Feishu event crypto and webhook verification, with lark-oapi as the oracle.

lark-oapi takes seconds to import, so it is loaded once for the module by the `lark` fixture.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import orjson
import pytest
from Crypto.Cipher import AES
from Crypto.Util.Padding import pad
from hypothesis import given, settings
from hypothesis import strategies as st

from aibot.channels.feishu.format import card
from aibot.channels.feishu.verify import (
    DecryptError,
    Rejected,
    WebhookVerifier,
    decrypt,
    encrypt,
    signature,
)
from tests.fakes.feishu_api import FakeFeishu, Message

# PROTOCOLS.md §6.1, F1-F3.
F1 = "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="
F2_PLAIN = b'{"challenge":"ajls384kdjx98XX","token":"vtoken123","type":"url_verification"}'
F2 = (
    "AAECAwQFBgcICQoLDA0ODw9mLTIAZS9jAmGTQ1wAhHpnBHVL2wRjH9rPunQdQC1vowgFED9sqYslOC/jjL/ycqCy"
    "P/l26wdpCscxAl3p1TWfP9JoEgwb1O48bkJP154m"
)
F3_SIGNATURE = "72e7b2642f6c5e6c50711ddc8e0366f61462eb25c97eb353243f54b5525c8503"
F3_EVENT = (
    '{"schema":"2.0","header":{"event_id":"evt_0001","event_type":"im.message.receive_v1",'
    '"create_time":"1700000000000","token":"vtoken123","app_id":"cli_test",'
    '"tenant_key":"tk_test"},"event":{"sender":{"sender_id":{"union_id":"on_u1",'
    '"user_id":"u1","open_id":"ou_u1"},"sender_type":"user","tenant_key":"tk_test"},'
    '"message":{"message_id":"om_m1","create_time":"1700000000000",'
    '"update_time":"1700000000000","chat_id":"oc_c1","chat_type":"group",'
    '"message_type":"text","content":"{\\"text\\":\\"@_user_1 hello\\"}","mentions":[{'
    '"key":"@_user_1","id":{"union_id":"on_bot","user_id":"","open_id":"ou_bot"},'
    '"name":"Bot","tenant_key":"tk_test"}]}}}'
)


@pytest.fixture(scope="module")
def lark() -> Any:
    import lark_oapi  # type: ignore[import-untyped]

    return lark_oapi


def test_official_vectors() -> None:
    assert decrypt("test key", F1) == b"hello world"
    assert encrypt("test key", F2_PLAIN, bytes(range(16))) == F2
    assert (
        hashlib.sha256(F3_EVENT.encode()).hexdigest()
        == "3f02f2f7de0dbd77c82b962a77131c0bdfa5286fe4d62050a5a8ac580f00c791"
    )
    body = orjson.dumps({"encrypt": encrypt("test key", F3_EVENT.encode(), bytes(16))})
    assert len(body) == 890
    assert signature("1700000000", "nonce-abc", "test key", body) == F3_SIGNATURE


@settings(max_examples=50, deadline=None)
@given(key=st.text(min_size=1, max_size=40), plaintext=st.binary(max_size=300))
def test_lark_decrypts_ours_and_we_decrypt_its_cipher(
    lark: Any, key: str, plaintext: bytes
) -> None:
    from lark_oapi.core.utils import AESCipher  # type: ignore[import-untyped]

    assert AESCipher(key).decrypt(base64.b64decode(encrypt(key, plaintext))) == plaintext
    # lark-oapi has no encryptor; its AES dependency (pycryptodome) plays Feishu's side.
    iv = bytes(16)
    theirs = AES.new(hashlib.sha256(key.encode()).digest(), AES.MODE_CBC, iv).encrypt(
        pad(plaintext, 16)
    )
    assert decrypt(key, base64.b64encode(iv + theirs).decode()) == plaintext


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64!",
        base64.b64encode(b"short").decode(),
        base64.b64encode(bytes(33)).decode(),
        encrypt("other key", b"hello"),
    ],
    # Fixed ids: the last value is random, and pytest-xdist needs every worker to collect the
    # same test names.
    ids=["empty", "not-base64", "shorter-than-a-block", "not-whole-blocks", "other-key"],
)
def test_decrypt_refuses_malformed_input(value: str) -> None:
    with pytest.raises(DecryptError):
        decrypt("test key", value)


async def test_lark_dispatcher_accepts_what_the_fake_pushes(lark: Any) -> None:
    from lark_oapi.core.model import RawRequest  # type: ignore[import-untyped]

    got: list[Any] = []
    handler = (
        lark.EventDispatcherHandler.builder("test key", "vtoken123")
        .register_p2_im_message_receive_v1(got.append)
        .build()
    )
    async with FakeFeishu(encrypt_key="test key", verification_token="vtoken123") as fake:
        envelope = fake.envelope(json.loads(F3_EVENT)["event"])
        body, headers = fake.signed_request(envelope)

    def request(headers: dict[str, str]) -> Any:
        raw = RawRequest()
        raw.uri, raw.body, raw.headers = "/", body, headers
        return raw

    assert handler.do(request(headers)).status_code == 200
    assert got[0].event.message.message_id == "om_m1"
    assert handler.do(request({**headers, "X-Lark-Signature": "0" * 64})).status_code == 500


async def test_lark_dispatcher_reads_the_fakes_card_button_press(lark: Any) -> None:
    from lark_oapi.core.model import RawRequest
    from lark_oapi.event.callback.model.p2_card_action_trigger import (  # type: ignore[import-untyped]
        P2CardActionTriggerResponse,
    )

    got: list[Any] = []

    def pressed(event: Any) -> Any:
        got.append(event)
        return P2CardActionTriggerResponse({"toast": {"type": "success", "content": "ok"}})

    handler = (
        lark.EventDispatcherHandler.builder("test key", "vtoken123")
        .register_p2_card_action_trigger(pressed)
        .build()
    )
    async with FakeFeishu(encrypt_key="test key", verification_token="vtoken123") as fake:
        fake.messages["om_c"] = Message(
            "om_c", "oc_1", "interactive", card("answer", "req-1"), "bot"
        )
        value = fake.messages["om_c"].buttons[0]
        body, headers = fake.signed_request(fake.card_action_event("om_c", value, "ou_ann"))
    raw = RawRequest()
    raw.uri, raw.body, raw.headers = "/", body, headers
    response = handler.do(raw)
    assert response.status_code == 200 and b"success" in response.content
    event = got[0].event
    assert (event.action.value, event.operator.open_id) == ({"rate": "rate:1:req-1"}, "ou_ann")
    assert event.context.open_message_id == "om_c"


def verifier(max_age: float = 300) -> WebhookVerifier:
    return WebhookVerifier("vtoken123", "test key", max_age)


def signed(payload: bytes, timestamp: float) -> tuple[dict[str, str], bytes]:
    body = orjson.dumps({"encrypt": encrypt("test key", payload)})
    stamp = str(int(timestamp))
    return {
        "x-lark-request-timestamp": stamp,
        "x-lark-request-nonce": "n1",
        "x-lark-signature": signature(stamp, "n1", "test key", body),
    }, body


def test_verifier_accepts_a_fresh_signed_event_and_refuses_stale_ones() -> None:
    now = time.time()
    headers, body = signed(F3_EVENT.encode(), now - 100)
    assert verifier().verify(headers, body, now).payload["header"]["event_id"] == "evt_0001"
    with pytest.raises(Rejected) as stale:
        verifier(max_age=60).verify(headers, body, now)
    assert stale.value.status == 401
    headers["x-lark-request-timestamp"] = "nan"
    with pytest.raises(Rejected):
        verifier().verify(headers, body, now)


def test_encrypted_challenge_needs_no_signature_but_the_right_token() -> None:
    body = orjson.dumps({"encrypt": F2})
    assert verifier().verify({}, body, time.time()).challenge == "ajls384kdjx98XX"
    wrong = WebhookVerifier("other-token", "test key", 300)
    with pytest.raises(Rejected) as refused:
        wrong.verify({}, body, time.time())
    assert refused.value.status == 401


def test_plain_mode_checks_the_token() -> None:
    plain = WebhookVerifier("vtoken123", "", 300)
    event = json.loads(F3_EVENT)
    assert plain.verify({}, orjson.dumps(event), 0).challenge is None
    event["header"]["token"] = "vtoken12"
    with pytest.raises(Rejected):
        plain.verify({}, orjson.dumps(event), 0)
    with pytest.raises(Rejected) as encrypted:
        plain.verify({}, orjson.dumps({"encrypt": F2}), 0)
    assert encrypted.value.status == 400
