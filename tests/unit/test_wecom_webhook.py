"""`GET`/`POST /wecom/webhook` in-process: official vectors, refusals with reasons, and fuzzing.

The properties fuzzed: no input makes either route answer 5xx, and a message reaches the handler
only if its `msg_signature` is right for its `Encrypt` (checked with wechatpy as the oracle).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from aibot.channels.wecom.verify import CallbackVerifier, Rejected, child_text, parse_xml
from aibot.channels.wecom.webhook import WEBHOOK_PATH, build_router
from aibot.config import WecomChannelConfig
from tests.fakes.wecom_api import FakeWecom
from tests.support.clock import FakeClock
from tests.support.wecom_vectors import CORP, KEY, TOKEN, W2_ECHOSTR, W3_ENCRYPT

OFFICIAL = WecomChannelConfig(
    corp_id=CORP, agent_id=218, secret="s", token=TOKEN, encoding_aes_key=KEY
)
fake = FakeWecom(corp_id=CORP, token=TOKEN, encoding_aes_key=KEY, agent_id=218)


class Route:
    """The router on an in-process ASGI app, with what it handed on and refused."""

    def __init__(
        self, config: WecomChannelConfig, now: float | None = None, fail: bool = False
    ) -> None:
        self.received: list[Element] = []
        self.refused: list[Rejected] = []
        self.fail = fail
        clock = {} if now is None else {"clock": FakeClock(now)}
        verifier = CallbackVerifier(config, **clock)
        app = FastAPI()
        app.include_router(build_router(verifier, self.handle, self.refused.append))
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://wecom.test"
        )

    async def handle(self, message: Element) -> None:
        if self.fail:
            raise RuntimeError("store is down")
        self.received.append(message)

    async def get(self, query: str) -> httpx.Response:
        return await self.http.get(f"{WEBHOOK_PATH}?{query}")

    async def post(self, query: str, body: bytes) -> httpx.Response:
        return await self.http.post(f"{WEBHOOK_PATH}?{query}", content=body)


@pytest.fixture
async def live() -> AsyncIterator[Route]:
    route = Route(OFFICIAL)
    yield route
    await route.http.aclose()


async def test_official_url_verification_echoes_the_plaintext_exactly() -> None:
    route = Route(OFFICIAL, now=1409659589)
    query = (
        f"msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589"
        f"&nonce=263014780&echostr={quote(W2_ECHOSTR, safe='')}"
    )
    response = await route.get(query)
    assert (response.status_code, response.content) == (200, b"1616140317555161061")
    assert response.headers["content-type"].startswith("text/plain")
    # A proxy that left "+" unencoded must not turn it into a space.
    unencoded = await route.get(query.replace("%2B", "+"))
    assert unencoded.content == b"1616140317555161061"


async def test_official_message_is_handed_on_with_an_empty_200() -> None:
    route = Route(OFFICIAL, now=1409659813)
    body = fake.envelope(W3_ENCRYPT)
    response = await route.post(
        "msg_signature=477715d11cdb4164915debcba66cb864d751f3e6"
        "&timestamp=1409659813&nonce=1372623149",
        body,
    )
    assert (response.status_code, response.content) == (200, b"")
    (message,) = route.received
    assert (child_text(message, "Content"), child_text(message, "MsgId")) == (
        "hello",
        "4561255354251345929",
    )


@pytest.mark.parametrize(
    ("change", "reason", "value"),
    [
        ({"token": "OtherToken"}, "signature", "channels.wecom.token"),
        ({"encoding_aes_key": "b" * 43}, "decrypt", "channels.wecom.encoding_aes_key"),
        ({"corp_id": "wwSomeoneElse"}, "receiveid", "corp_id"),
    ],
)
async def test_each_wrong_value_is_named(change: dict[str, Any], reason: str, value: str) -> None:
    wecom = FakeWecom(**{"corp_id": CORP, "token": TOKEN, "encoding_aes_key": KEY, **change})
    route = Route(OFFICIAL)
    encrypted = wecom.encrypt("12345")
    response = await route.get(urlencode({**wecom.signed_query(encrypted), "echostr": encrypted}))
    assert (response.status_code // 100, response.text) == (4, reason)
    assert value in str(route.refused[0].fix)
    if reason == "receiveid":
        assert "wwSomeoneElse" in str(route.refused[0].fix)


async def test_stale_timestamps_and_missing_params_are_refused(live: Route) -> None:
    encrypted = fake.encrypt("1")
    old = fake.signed_query(encrypted, timestamp="1409659589")
    response = await live.get(urlencode({**old, "echostr": encrypted}))
    assert (response.status_code, response.text) == (403, "timestamp")
    assert (await live.get("")).status_code == 400
    assert (await live.post("", b"<xml/>")).status_code == 400


async def test_xml_bombs_and_missing_encrypt_are_refused_before_any_handling(live: Route) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol9 '
        b'"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><xml><Encrypt>&lol9;'
        b"</Encrypt></xml>"
    )
    query = urlencode(fake.signed_query("x"))
    for body in (bomb, b"<xml><ToUserName>x</ToUserName></xml>", b"not xml"):
        response = await live.post(query, body)
        assert response.status_code == 400
    assert live.received == []


async def test_a_store_failure_answers_503_so_wecom_delivers_again() -> None:
    route = Route(OFFICIAL, fail=True)
    encrypted = fake.encrypt(fake.text_xml("zhangsan", "hi"))
    response = await route.post(urlencode(fake.signed_query(encrypted)), fake.envelope(encrypted))
    assert response.status_code == 503


ORACLE = WeChatCrypto(TOKEN, KEY, CORP)
text = st.text(max_size=80)
params = st.dictionaries(
    st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr", "other"]), text, max_size=5
)


def _signed(message: dict[str, str], body: bytes) -> bool:
    """The oracle's view: is the signature right for the body's Encrypt?"""
    try:
        encrypted = child_text(parse_xml(body), "Encrypt") or ""
        ORACLE.check_signature(
            message.get("msg_signature", ""),
            message.get("timestamp", ""),
            message.get("nonce", ""),
            encrypted,
        )
    except (InvalidSignatureException, Rejected):
        return False
    except Exception:  # the signature held; wechatpy failed on the decryption
        return True
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    query=params,
    raw=st.binary(max_size=200),
    tamper=st.sampled_from(["random", "none", "params", "body"]),
    at=st.integers(0, 10**4),
)
async def test_fuzz_never_5xx_never_accepted_unsigned(
    query: dict[str, str], raw: bytes, tamper: str, at: int
) -> None:
    route = Route(OFFICIAL)
    async with route.http:
        get = await route.get(urlencode(query))
        assert get.status_code < 500
        if get.status_code == 200:
            assert (
                ORACLE.check_signature(
                    query["msg_signature"], query["timestamp"], query["nonce"], query["echostr"]
                )
                == get.text
            )

        encrypted = fake.encrypt(fake.text_xml("zhangsan", "fuzz"))
        signed, body = fake.signed_query(encrypted), fake.envelope(encrypted)
        if tamper == "random":
            signed, body = query, raw
        elif tamper == "params":
            signed = {**signed, **query}
        elif tamper == "body":  # flip one bit of a real, signed request
            body = (
                body[: at % len(body)]
                + bytes([body[at % len(body)] ^ 1])
                + body[at % len(body) + 1 :]
            )
        post = await route.post(urlencode(signed), body)
        assert post.status_code < 500
        if post.status_code == 200:
            assert _signed(signed, body) and len(route.received) == 1
        else:
            assert route.received == []
        if tamper == "none":
            assert post.status_code == 200
